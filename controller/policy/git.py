"""The git CLI, for the three things the controller asks of a policy repository.

Which commit a working copy is at (so a revision names a commit, not a hash of files), fetching a
branch of a remote repository into a local mirror, and exporting one commit's files into a
directory the loader can read. The git CLI rather than a library: it is what platform teams
already trust with their SSH keys, known_hosts and proxies. Credentials reach git through its
environment, never its arguments, and never appear in a message (`git_access`).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from controller.policy.git_access import Access, Credentials, GitError, scrub

__all__ = [  # the credentials' side lives in git_access; callers know one module
    "TIMEOUT_SECONDS",
    "Access",
    "Credentials",
    "GitError",
    "export",
    "fetch",
    "git",
    "last_change",
    "locate",
    "pin",
    "pinned",
    "resolve",
    "scrub",
    "working_copy",
]

TIMEOUT_SECONDS = 120.0
"""A fetch that takes longer is stuck (a hung SSH handshake); the next interval tries again."""


def git(
    *args: str,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    stdout_bytes: bool = False,
    secrets: Iterable[str] = (),
) -> str | bytes:
    """Run `git args...` and return its output; `GitError` with git's message when it fails,
    scrubbed of URL credentials and of `secrets`."""
    base = {key: value for key, value in (environ or {}).items()}
    env = {
        **base,
        "GIT_TERMINAL_PROMPT": "0",  # never wait for a password nobody will type
        "LC_ALL": "C",
    }
    command = ["git", "-c", "safe.directory=*", *args]
    if cwd is not None and not cwd.is_dir():
        raise GitError(f"{cwd}: no such directory")
    try:
        done = subprocess.run(  # noqa: S603 - fixed program, arguments are ours, no shell
            command, cwd=cwd, env=env, capture_output=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except FileNotFoundError:
        raise GitError("the git command is not installed; install git") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} did not finish in {TIMEOUT_SECONDS:.0f} s") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        reason = said[-1] if said else f"exit status {done.returncode}"
        raise GitError(scrub(f"git {args[0]} failed: {reason}", secrets))
    return done.stdout if stdout_bytes else done.stdout.decode().strip()


def _text(*args: str, cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> str:
    out = git(*args, cwd=cwd, environ=environ)
    assert isinstance(out, str)
    return out


def working_copy(directory: Path, environ: Mapping[str, str]) -> str | None:
    """The last commit that changed `directory`, when it is inside a git working copy and its
    files are exactly that commit's (no local edits, nothing untracked); None otherwise."""
    try:
        changed = _text(
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--",
            ".",
            cwd=directory,
            environ=environ,
        )
        commit = _text("log", "-1", "--format=%H", "--", ".", cwd=directory, environ=environ)
    except GitError:
        return None  # not a repository, or one without commits: the files are the revision
    return None if changed or not commit else commit


def last_change(repository: Path, commit: str, path: str, environ: Mapping[str, str]) -> str:
    """The newest commit, up to `commit`, that changed `path`: what a commit elsewhere in the
    repository leaves in force. Shallow history ends at its oldest commit; that one is named."""
    spec = ["--", path] if path else []
    found = _text("log", "-1", "--format=%H", commit, *spec, cwd=repository, environ=environ)
    return found or commit


def locate(directory: Path, environ: Mapping[str, str]) -> tuple[Path, str]:
    """(repository root, path of `directory` in it); `GitError` outside a repository."""
    try:
        top = _text("rev-parse", "--show-toplevel", cwd=directory, environ=environ)
        prefix = _text("rev-parse", "--show-prefix", cwd=directory, environ=environ)
    except GitError:
        raise GitError(f"{directory} is not inside a git repository") from None
    return Path(top), prefix.rstrip("/")


def resolve(repository: Path, ref: str, environ: Mapping[str, str]) -> str:
    """The commit SHA `ref` (a branch, tag, SHA or HEAD~1) names in `repository`."""
    try:
        return _text("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=repository, environ=environ)
    except GitError:
        raise GitError(f"{ref!r} is not a commit in {repository}") from None


def pin(repository: Path, ref: str, commit: str, environ: Mapping[str, str]) -> None:
    """Point `ref` at `commit`: remembered across restarts, and safe from `git gc`."""
    _text("update-ref", ref, commit, cwd=repository, environ=environ)


def pinned(repository: Path, ref: str, environ: Mapping[str, str]) -> str | None:
    """The commit `ref` points at; None when it does not exist (or the repository does not)."""
    if not (repository / "HEAD").exists():
        return None
    try:
        return _text("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=repository, environ=environ)
    except GitError:
        return None


def export(
    repository: Path, commit: str, path: str, into: Path, environ: Mapping[str, str]
) -> Path:
    """Write the files of `commit` under `path` into `into`; returns the policy directory there."""
    spec = [f"{commit}:{path}"] if path else [commit]
    try:
        archive = git(
            "archive", "--format=tar", *spec, cwd=repository, stdout_bytes=True, environ=environ
        )
    except GitError as error:
        where = f"{path!r} at" if path else "commit"
        raise GitError(f"cannot read {where} {commit[:12]}: {error.errors[0]}") from None
    assert isinstance(archive, bytes)
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")  # no links out of `into`, no devices
    return into


def fetch(url: str, branch: str, mirror: Path, environ: Mapping[str, str], access: Access) -> str:
    """Fetch `branch` of `url` into the bare repository `mirror`; returns its head commit.
    Git is given `access.url`, never `url`, and its credentials through the environment."""
    if not (mirror / "HEAD").exists():
        mirror.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", str(mirror), environ=environ)
    refspec = f"+refs/heads/{branch}:refs/heads/{branch}"
    try:
        git(
            "fetch",
            "--quiet",
            "--no-tags",
            access.url,
            refspec,
            cwd=mirror,
            environ=access.environ(environ),
            secrets=access.secrets,
        )
    except GitError as error:
        where = scrub(url, access.secrets)
        raise GitError(f"cannot fetch branch {branch!r} of {where}: {error.errors[0]}") from None
    return _text("rev-parse", f"refs/heads/{branch}", cwd=mirror, environ=environ)
