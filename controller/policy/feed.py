"""Where the controller gets its policy from: a directory, or a branch of a git repository.

A directory is read where it is (a git working copy kept fresh by a git-sync sidecar, or any
folder); a repository is fetched into a mirror under the state directory and each new commit is
exported into a folder of its own. Either way the loop asks `latest()` on an interval and on
SIGHUP, and gets a `Checkout`: the folder to load and what names it. The revision is the commit
when the files are exactly a commit's: the last commit that changed the policy folder, so metrics
and plans name what a reviewer merged, and commits elsewhere in a monorepo reload nothing.

A feed also remembers the last policy that loaded (`remember`), so that a restart with a broken
commit on the branch can go on with what ran before it (`last_good`). A repository pins that
commit in its mirror (`refs/provisioner/last-good`, which also keeps it from `git gc`) and can
export it again. A directory keeps no old copy, so it has none: its files are someone else's
(git-sync's, a ConfigMap's), and a copy of them would freeze a users file kept beside the policy.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from controller.policy import git

REVISION_LENGTH = 12
"""Short SHAs, as git and GitHub show them; long enough to be unique in any policy repository."""


@dataclass(frozen=True)
class Checkout:
    directory: Path
    """The policy directory to load."""
    commit: str | None
    """The commit its files are exactly, or None (a folder outside git, or with local edits)."""
    fingerprint: str
    """Changes whenever the files may have: the loop reloads only when it does."""

    @property
    def revision(self) -> str | None:
        """The commit's short SHA; None leaves the revision to the loader's content hash."""
        return self.commit[:REVISION_LENGTH] if self.commit else None


class PolicyFeed(Protocol):
    def describe(self) -> str:
        """Where the policy comes from, for logs: never a credential."""

    def latest(self) -> Checkout:
        """The newest policy files; `GitError` when they cannot be got."""

    def keep_only(self, checkout: Checkout) -> None:
        """Release every checkout but the one in force (a no-op for a plain directory)."""

    def remember(self, checkout: Checkout) -> None:
        """`checkout` loaded: it is what `last_good` returns from now on, across restarts."""

    def last_good(self) -> Checkout | None:
        """The last checkout `remember`ed, when it can still be had; None otherwise."""


class DirectoryFeed:
    def __init__(self, directory: Path, environ: Mapping[str, str]) -> None:
        self.directory = directory
        self.environ = environ

    def describe(self) -> str:
        return str(self.directory)

    def latest(self) -> Checkout:
        commit = git.working_copy(self.directory, self.environ)
        if commit is not None:
            return Checkout(self.directory, commit, commit)
        return Checkout(self.directory, None, _stat_fingerprint(self.directory))

    def keep_only(self, checkout: Checkout) -> None:
        return None

    def remember(self, checkout: Checkout) -> None:
        return None

    def last_good(self) -> Checkout | None:
        return None


def _stat_fingerprint(directory: Path) -> str:
    """A hash of every file's path, size and modification time: cheap enough to poll."""
    digest = hashlib.sha256(str(directory.resolve()).encode())
    if directory.is_dir():
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


LAST_GOOD_REF = "refs/provisioner/last-good"
"""Where a repository's mirror pins the commit whose policy last loaded."""


class GitFeed:
    """A branch of a remote repository, fetched into `<cache>/mirror.git`; each commit's policy
    is exported to `<cache>/checkouts/<commit>/`, kept while that commit is in force."""

    def __init__(
        self,
        url: str,
        *,
        branch: str,
        path: str,
        cache: Path,
        credentials: git.Credentials,
        environ: Mapping[str, str],
    ) -> None:
        self.url = url
        self.branch = branch
        self.path = path.strip("/")
        self.cache = cache
        self.credentials = credentials
        self.environ = environ

    def describe(self) -> str:
        where = f" path {self.path}" if self.path else ""
        return f"{git.scrub(self.url)} branch {self.branch}{where}"

    def latest(self) -> Checkout:
        access = self.credentials.access(self.url)  # read now: a rotated token file applies
        head = git.fetch(self.url, self.branch, self.mirror, self.environ, access)
        return self._checkout(git.last_change(self.mirror, head, self.path, self.environ))

    @property
    def mirror(self) -> Path:
        return self.cache / "mirror.git"

    def _checkout(self, commit: str) -> Checkout:
        """The folder of `commit`'s policy, exported from the mirror unless it already is."""
        folder = self.cache / "checkouts" / commit
        if not folder.is_dir():
            partial = folder.with_name(f".{commit}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            git.export(self.mirror, commit, self.path, partial, self.environ)
            partial.rename(folder)  # a crash mid-export never leaves a half folder to load
        return Checkout(folder, commit, commit)

    def keep_only(self, checkout: Checkout) -> None:
        for folder in (self.cache / "checkouts").iterdir():
            if folder != checkout.directory:
                shutil.rmtree(folder, ignore_errors=True)

    def remember(self, checkout: Checkout) -> None:
        if checkout.commit is not None:
            git.pin(self.mirror, LAST_GOOD_REF, checkout.commit, self.environ)

    def last_good(self) -> Checkout | None:
        commit = git.pinned(self.mirror, LAST_GOOD_REF, self.environ)
        return self._checkout(commit) if commit is not None else None
