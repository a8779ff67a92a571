"""One writer per state directory (DESIGN.md section 6, rule 9): an exclusive lock file in it.

Two writers at once run the same plan twice. Two `apply` runs, or an `apply` beside a running
controller, each created the groups the other was creating (issue 15: duplicate `ward-staff` and
`ward-admins` groups in the care app). So `apply` (for its run) and `run` (for its whole life)
hold `writer.lock` in the state directory. It is an `fcntl.flock`, which the kernel releases when
the process ends however it ends, so a crash or a `kill -9` leaves no stale lock behind. The
holder writes who it is into the file (pid, host, command, since), so a second writer can name
it when it refuses. `plan`, `diff`, `history`, `report` and `approve` take no lock: they only
read, and `approve` only adds one journal row that the writer consumes.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from controller.errors import ProvisionerError

LOCK_FILE = "writer.lock"
"""The lock's file in the state directory (`--state-dir`)."""
POLL_SECONDS = 0.2
NAMING_SECONDS = 2.0
"""How long a refused or waiting writer gives a new holder to write its name into the file."""


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as the holder wrote it into the lock file."""

    pid: int
    host: str
    command: str
    """`provisioner run` or `provisioner apply`: the subcommand only, never its arguments
    (a --policy-repo URL may carry credentials)."""
    since: str
    """When it took the lock, ISO 8601 UTC."""

    def describe(self) -> str:
        what = "a running controller" if self.command.endswith(" run") else "another writer"
        return f"{what} (pid {self.pid} on host {self.host}, `{self.command}`, since {self.since})"


class LockHeld(ProvisionerError):
    """Another process writes for this state directory; the message names it and what to do."""

    def __init__(self, path: Path, holder: Holder | None, waited: float) -> None:
        self.path = path
        self.holder = holder
        who = holder.describe() if holder else "another writer (it has not yet said who it is)"
        waited_for = f" after waiting {waited:g} s" if waited else ""
        super().__init__(
            f"{who} holds {path}{waited_for}: only one `apply` or `run` may write for a state "
            "directory at a time. To release deprovisions a running controller holds, use "
            "`provisioner approve --app APP` (its next cycle takes it up; `kill -USR1 <pid>` "
            "starts one now). To apply by hand, stop the controller first, or wait for the "
            "other apply with --lock-timeout SECONDS."
        )


def read_holder(path: Path) -> Holder | None:
    """The holder named in the lock file, or None when it is empty or unreadable."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return Holder(
            pid=int(document["pid"]),
            host=str(document["host"]),
            command=str(document["command"]),
            since=str(document["since"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


class WriterLock:
    """The held lock; release it with `release()` or by leaving its `with` block."""

    def __init__(self, path: Path, descriptor: int, holder: Holder) -> None:
        self.path = path
        self.holder = holder
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        if self._descriptor is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._descriptor, 0)  # nobody is named once nobody holds it
        os.close(self._descriptor)  # closing the last descriptor releases the flock
        self._descriptor = None

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.release()


def _holder_soon(path: Path) -> Holder | None:
    """The holder, given the moment between taking the lock and writing its name to finish."""
    deadline = time.monotonic() + NAMING_SECONDS
    while (holder := read_holder(path)) is None and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS / 4)
    return holder


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def acquire(
    state_dir: Path,
    *,
    command: str,
    timeout: float = 0.0,
    on_wait: Callable[[Holder | None], None] | None = None,
) -> WriterLock:
    """Take the state directory's writer lock, waiting up to `timeout` seconds for it.

    `on_wait` is told the holder once, when the lock is busy and there is time to wait.
    Raises `LockHeld`, naming the holder, when the lock is still busy at the deadline.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    started = time.monotonic()
    told = False
    while not _try_lock(descriptor):
        waited = time.monotonic() - started
        if waited >= timeout:
            os.close(descriptor)
            raise LockHeld(path, _holder_soon(path), round(timeout, 1))
        if not told and on_wait is not None:
            on_wait(_holder_soon(path))
            told = True
        time.sleep(min(POLL_SECONDS, timeout - waited))
    holder = Holder(
        pid=os.getpid(),
        host=socket.gethostname(),
        command=command,
        since=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, json.dumps(asdict(holder)).encode(), 0)
    return WriterLock(path, descriptor, holder)
