"""Where the policy comes from, against real git: repositories, working copies, a git-sync swap,
and an HTTP remote that records what git sent it."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

import pytest

from controller.policy import git as policy_git
from controller.policy.feed import DirectoryFeed, GitFeed
from tests.gitrepo import commit, git, init

POLICY = "apiVersion: provisioner/v1\nkind: Source\nmetadata: {name: org}\n"


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    """A repository with the policy in `desired-state/` beside other things."""
    repo = tmp_path / "repo"
    (repo / "desired-state").mkdir(parents=True)
    init(repo)
    (repo / "desired-state" / "source.yaml").write_text(POLICY)
    (repo / "README.md").write_text("# infra\n")
    commit(repo, "first")
    return repo


def feed(repo: Path, cache: Path, credentials: policy_git.Credentials | None = None) -> GitFeed:
    return GitFeed(
        repo.as_uri(),
        branch="main",
        path="desired-state",
        cache=cache,
        credentials=credentials or policy_git.Credentials(),
        environ={"PATH": "/usr/bin:/bin"},
    )


def test_only_commits_that_change_the_policy_folder_are_new_revisions(
    monorepo: Path, tmp_path: Path
) -> None:
    following = feed(monorepo, tmp_path / "cache")
    first = following.latest()
    assert first.commit == git(monorepo, "rev-parse", "HEAD")
    assert (first.directory / "source.yaml").read_text() == POLICY
    assert first.revision == first.commit[:12]  # type: ignore[index]

    (monorepo / "README.md").write_text("# infra, documented\n")
    commit(monorepo, "docs only")
    assert following.latest() == first  # same commit, same folder: nothing to reload

    (monorepo / "desired-state" / "rules.yaml").write_text("# rules\n")
    policy_commit = commit(monorepo, "a rule")
    second = following.latest()
    assert second.commit == policy_commit and second.fingerprint != first.fingerprint
    assert sorted(p.name for p in second.directory.iterdir()) == ["rules.yaml", "source.yaml"]

    following.keep_only(second)
    assert not first.directory.exists() and second.directory.exists()


def test_a_missing_branch_or_folder_is_a_clear_error(monorepo: Path, tmp_path: Path) -> None:
    wrong_branch = GitFeed(
        monorepo.as_uri(),
        branch="release",
        path="desired-state",
        cache=tmp_path / "a",
        credentials=policy_git.Credentials(),
        environ={},
    )
    with pytest.raises(policy_git.GitError, match="cannot fetch branch 'release'"):
        wrong_branch.latest()
    wrong_path = GitFeed(
        monorepo.as_uri(),
        branch="main",
        path="policies",
        cache=tmp_path / "b",
        credentials=policy_git.Credentials(),
        environ={},
    )
    with pytest.raises(policy_git.GitError, match="cannot read 'policies' at"):
        wrong_path.latest()


def test_the_last_good_commit_outlives_its_folder_a_force_push_and_a_restart(
    monorepo: Path, tmp_path: Path
) -> None:
    following = feed(monorepo, tmp_path / "cache")
    assert following.last_good() is None  # nothing loaded yet
    good = following.latest()
    following.remember(good)

    (monorepo / "desired-state" / "source.yaml").write_text(POLICY + "# rewritten\n")
    git(monorepo, "commit", "--quiet", "--all", "--amend", "-m", "history rewritten")
    newest = following.latest()  # the good commit is on no branch any more
    following.keep_only(newest)
    assert not good.directory.exists()
    git(tmp_path / "cache" / "mirror.git", "gc", "--quiet", "--prune=now")

    restored = feed(monorepo, tmp_path / "cache").last_good()  # as a restarted process sees it
    assert restored == good
    assert (restored.directory / "source.yaml").read_text() == POLICY
    assert DirectoryFeed(monorepo / "desired-state", {}).last_good() is None


class Recorder(BaseHTTPRequestHandler):
    """An HTTP git remote that refuses everyone and remembers their Authorization header."""

    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        Recorder.seen.append(self.headers.get("Authorization"))
        self.send_response(403)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def http_remote() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/org/policy.git"
    server.shutdown()
    server.server_close()


def test_a_token_file_reaches_git_as_basic_auth_and_never_a_message(
    http_remote: str, tmp_path: Path
) -> None:
    token = "ghp_not-a-real-token-1234"
    (tmp_path / "token").write_text(f"{token}\n")
    credentials = policy_git.Credentials(token_file=tmp_path / "token")
    url = http_remote.replace("http://", "http://someone:url-password@")
    remote = GitFeed(
        url,
        branch="main",
        path="",
        cache=tmp_path / "cache",
        credentials=credentials,
        environ={},
    )
    with pytest.raises(policy_git.GitError) as raised:
        remote.latest()

    expected = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert f"Basic {expected}" in Recorder.seen
    message = str(raised.value)
    assert "cannot fetch branch 'main'" in message
    assert token not in message and "url-password" not in message and expected not in message
    assert "***@127.0.0.1" in remote.describe() and "url-password" not in remote.describe()


def test_a_working_copy_is_named_by_its_commit_until_edited(monorepo: Path) -> None:
    policy = monorepo / "desired-state"
    clean = DirectoryFeed(policy, {}).latest()
    assert clean.commit == git(monorepo, "rev-parse", "HEAD")

    (policy / "source.yaml").write_text(POLICY + "# an edit not yet committed\n")
    edited = DirectoryFeed(policy, {}).latest()
    assert edited.commit is None and edited.revision is None  # the loader hashes the files
    assert edited.fingerprint != clean.fingerprint


def test_a_git_sync_link_swap_is_a_new_fingerprint(tmp_path: Path) -> None:
    """git-sync checks each commit out into its own folder and swaps a symlink to it."""
    for name in ("rev1", "rev2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "source.yaml").write_text(f"{POLICY}# {name}\n")
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "rev1")
    before = DirectoryFeed(link, {}).latest()

    swap = tmp_path / "current.new"
    swap.symlink_to(tmp_path / "rev2")
    swap.replace(link)  # atomic, as git-sync does it
    after = DirectoryFeed(link, {}).latest()

    assert after.fingerprint != before.fingerprint
    assert after.directory == link


class Stalling(BaseHTTPRequestHandler):
    """An HTTP git remote that holds each request until the test has looked at every process,
    then refuses it: a fetch in flight for as long as the test needs, and no longer."""

    seen: ClassVar[list[str | None]] = []
    arrived = threading.Event()
    release = threading.Event()

    def do_GET(self) -> None:
        Stalling.seen.append(self.headers.get("Authorization"))
        Stalling.arrived.set()
        Stalling.release.wait(timeout=60)
        self.send_response(403)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def stalling_remote() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stalling)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Stalling.seen = []
    Stalling.arrived.clear()
    Stalling.release.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/org/policy.git"
    Stalling.release.set()
    server.shutdown()
    server.server_close()


def command_lines() -> list[bytes]:
    """Every process's command line, as anyone on the machine can read it."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" "))
            except OSError:
                continue  # it ended meanwhile
    return found


@pytest.mark.parametrize("given_as", ["url", "url user", "token file"])
def test_no_git_password_is_on_any_command_line_during_a_fetch(
    stalling_remote: str, tmp_path: Path, given_as: str
) -> None:
    password = "p@ss:w/rd%41+é'"  # every character that broke a URL or a scrubber
    credentials = policy_git.Credentials()
    url = stalling_remote
    if given_as == "url":
        url = url.replace("http://", f"http://someone:{quote(password, safe='')}@")
        user = "someone"
    elif given_as == "url user":  # GitHub's https://TOKEN@github.com/... form
        url = url.replace("http://", f"http://{quote(password, safe='')}@")
        user, password = password, ""
    else:
        (tmp_path / "token").write_text(password)
        credentials = policy_git.Credentials(token_file=tmp_path / "token")
        user = "x-access-token"
    remote = GitFeed(
        url, branch="main", path="", cache=tmp_path / "cache", credentials=credentials, environ={}
    )
    failed: list[BaseException] = []

    def fetching() -> None:
        try:
            remote.latest()
        except policy_git.GitError as error:
            failed.append(error)

    thread = threading.Thread(target=fetching)
    thread.start()
    try:
        assert Stalling.arrived.wait(timeout=60), "git never reached the remote"
        in_flight = command_lines()  # git fetch and git-remote-http wait on the remote now
    finally:
        Stalling.release.set()
        thread.join(timeout=60)

    assert any(b"remote-http" in line for line in in_flight), "the fetch was not seen running"
    secret = password or user
    forms = {secret, quote(secret, safe=""), quote(secret)}
    leaked = [line for line in in_flight if any(form.encode() in line for form in forms)]
    assert leaked == []
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    assert Stalling.seen[0] == f"Basic {basic}"  # yet git did send them, from its environment
    (error,) = failed
    assert "cannot fetch branch 'main'" in str(error)
    assert not any(form in str(error) for form in forms)
