"""How git is given credentials, and how they are kept out of command lines and messages.

Credentials reach git through its environment, never its arguments: every user of the machine
can read a process's command line (/proc/PID/cmdline, `ps`) for as long as a fetch runs, and
git hands the URL on to `git-remote-https` as an argument too (issue 17). A token, and a
`user:password@` given in the URL, become an `Authorization` header in `GIT_CONFIG_*`
variables (readable by the controller's own user only), and the URL git is given has them
stripped. No message shows them either: `scrub` takes the userinfo out of any URL in a text and
every known secret out of git's own words, whatever characters the password has.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from controller.errors import PolicyError

_URL_USERINFO = re.compile(r"(?<=://)\S*@")
"""Greedy to the last `@` before a space: a password with `@`, `:` or `/` in it is taken whole.
It may take more than the userinfo (an `@` later in the path); too much hidden is safe."""
MASK = "***"


class GitError(PolicyError):
    """A git command failed; the message is git's own, without credentials."""

    def __init__(self, message: str) -> None:
        super().__init__([message])


@dataclass(frozen=True)
class Access:
    """How git reaches one remote: what may be on its command line, and what may not."""

    url: str
    """The remote's URL without a password (and, for HTTP, without a user): argv-safe."""
    environment: dict[str, str] = field(default_factory=dict)
    """`GIT_CONFIG_*` and `GIT_SSH_COMMAND` entries carrying the credentials."""
    secrets: tuple[str, ...] = ()
    """Every form of every credential, for `scrub` to take out of git's messages."""

    def environ(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with these credentials added after any `GIT_CONFIG_*` entries it has."""
        merged = dict(base)
        extra = dict(self.environment)
        count = int(extra.pop("GIT_CONFIG_COUNT", "0"))
        first = _config_count(base)
        for index in range(count):
            merged[f"GIT_CONFIG_KEY_{first + index}"] = extra.pop(f"GIT_CONFIG_KEY_{index}")
            merged[f"GIT_CONFIG_VALUE_{first + index}"] = extra.pop(f"GIT_CONFIG_VALUE_{index}")
        if count:
            merged["GIT_CONFIG_COUNT"] = str(first + count)
        return merged | extra


def _config_count(environ: Mapping[str, str]) -> int:
    try:
        return max(0, int(environ.get("GIT_CONFIG_COUNT", "0")))
    except ValueError:
        return 0  # git refuses a malformed count itself; ours start at 0


@dataclass(frozen=True)
class Credentials:
    """How git authenticates to the remote; every field optional (public or file:// repos)."""

    token: str | None = None
    """HTTPS: sent as HTTP basic auth with `username`, as GitHub and GitLab accept tokens."""
    token_file: Path | None = None
    """Read at every fetch, so a rotated Kubernetes Secret takes effect without a restart."""
    username: str = "x-access-token"
    ssh_key_file: Path | None = None
    known_hosts_file: Path | None = None

    def access(self, url: str) -> Access:
        """How git reaches `url`: a token (or else a password in the URL) as an environment
        header, the URL stripped of it. `GitError` when the token file cannot be read."""
        bare, user, password = split_url(url)
        token = self.token
        if self.token_file is not None:
            try:
                token = self.token_file.read_text().strip()
            except OSError as error:
                raise GitError(f"cannot read the git token file: {error.strerror}") from None
        env: dict[str, str] = {}
        secrets: list[str] = [password] if password else []
        if token:
            user, password = self.username, token
            secrets.append(token)
        elif password and not user:
            user = self.username
        elif user and password is None and bare != url:
            password = ""  # an HTTP(S) URL's user alone: maybe a token, sent as basic auth
            secrets.append(user)
        if password is not None and user is not None:
            basic = base64.b64encode(f"{user}:{password}".encode()).decode()
            secrets.append(basic)
            env |= {
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
            }
        if self.ssh_key_file is not None:
            ssh = f"ssh -i '{self.ssh_key_file}' -o IdentitiesOnly=yes -o BatchMode=yes"
            if self.known_hosts_file is not None:
                ssh += f" -o UserKnownHostsFile='{self.known_hosts_file}'"
            env["GIT_SSH_COMMAND"] = ssh
        return Access(bare, env, _forms(secrets))


def split_url(url: str) -> tuple[str, str | None, str | None]:
    """(the URL without its password, its user, its password), the last two percent-decoded.

    A password is always taken out. An HTTP(S) URL loses its whole userinfo: the header carries
    it, and a user alone may be a token (GitHub takes `https://TOKEN@github.com/...`), so it
    is treated as one. Other schemes keep a user alone: `ssh://git@host/...` needs it, and it
    is no secret there. The userinfo ends at the last `@` before the path, as RFC 3986 and git
    read it, so `p@ss` is one password. A token belongs in the token file, not in the URL.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, None, None  # a path, or scp-like `git@host:org/repo` (no password there)
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop)
        if found != -1:
            end = min(end, found)
    userinfo, at, host = rest[:end].rpartition("@")
    if not at:
        return url, None, None
    raw_user, colon, raw_password = userinfo.partition(":")
    user = urllib.parse.unquote(raw_user)
    password = urllib.parse.unquote(raw_password) if colon else None
    if scheme.lower() in ("http", "https"):
        return f"{scheme}://{host}{rest[end:]}", user or None, password
    if password is None:
        return url, user or None, None
    kept = f"{raw_user}@" if raw_user else ""
    return f"{scheme}://{kept}{host}{rest[end:]}", user or None, password


def _forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret as it may appear in a message: as is, and percent-encoded as in a URL."""
    forms = set()
    for secret in secrets:
        forms |= {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)}
    return tuple(sorted(forms, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every occurrence of each secret, and the userinfo of any URL, as `***`:
    `https://user:p@ss@host/` -> `https://***@host/`. Occurrences are masked where they are in
    `text` (overlapping ones merged), so a mask never joins two pieces into a new secret."""
    masked = bytearray(len(text))
    for secret in set(secrets):
        if not secret:
            continue
        start = text.find(secret)
        while start != -1:
            masked[start : start + len(secret)] = b"\x01" * len(secret)
            start = text.find(secret, start + 1)
    if any(masked):
        pieces: list[str] = []
        for index, char in enumerate(text):
            if not masked[index]:
                pieces.append(char)
            elif index == 0 or not masked[index - 1]:
                pieces.append(MASK)
        text = "".join(pieces)
    return _URL_USERINFO.sub(f"{MASK}@", text)
