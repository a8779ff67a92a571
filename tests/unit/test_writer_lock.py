"""The writer lock: one holder per state directory, named to whoever is refused, freed by death.

Real files and real processes: the lock is the kernel's flock, so a second open of the file
(in this process or another) contends exactly as a second `apply` would.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from controller import writer_lock
from controller.writer_lock import LockHeld

HOLD = """
import sys, time
from pathlib import Path
from controller import writer_lock
lock = writer_lock.acquire(Path(sys.argv[1]), command="provisioner run")
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_writer_is_refused_and_told_who_holds_the_lock(tmp_path: Path) -> None:
    with (
        writer_lock.acquire(tmp_path, command="provisioner apply"),
        pytest.raises(LockHeld) as refused,
    ):
        writer_lock.acquire(tmp_path, command="provisioner apply")
    message = str(refused.value)
    assert f"(pid {os.getpid()} on host " in message
    assert "`provisioner apply`, since " in message
    assert str(tmp_path / "writer.lock") in message
    assert "provisioner approve --app APP" in message
    # released: the next writer gets it, and nobody is named in the file any more
    assert writer_lock.read_holder(tmp_path / "writer.lock") is None
    with writer_lock.acquire(tmp_path, command="provisioner apply") as again:
        assert writer_lock.read_holder(again.path) == again.holder


def test_a_waiting_writer_gets_the_lock_once_the_holder_lets_go(tmp_path: Path) -> None:
    holder = writer_lock.acquire(tmp_path, command="provisioner apply")
    told: list[writer_lock.Holder | None] = []
    releasing = threading.Timer(0.5, holder.release)

    def waiting(who: writer_lock.Holder | None) -> None:
        told.append(who)
        releasing.start()  # let go only once the second writer is known to wait

    with writer_lock.acquire(tmp_path, command="provisioner apply", timeout=120, on_wait=waiting):
        assert told == [holder.holder]
    releasing.join()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None and process.stdout.readline() == "held\n"
            with pytest.raises(LockHeld) as refused:
                writer_lock.acquire(tmp_path, command="provisioner apply", timeout=0.5)
            assert f"a running controller (pid {process.pid} on host " in str(refused.value)
            assert "after waiting 0.5 s" in str(refused.value)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
    with writer_lock.acquire(tmp_path, command="provisioner apply") as taken:
        assert taken.holder.pid == os.getpid()


def test_a_writer_refused_while_the_holder_is_writing_its_name_still_names_it(
    tmp_path: Path,
) -> None:
    """Between taking the flock and writing its name a holder is anonymous for an instant;
    CI once refused a second apply right then, and the message named nobody."""
    path = tmp_path / writer_lock.LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(descriptor, fcntl.LOCK_EX)  # held, not yet named
    name = {"pid": 4242, "host": "elsewhere", "command": "provisioner apply", "since": "now"}
    naming = threading.Timer(0.3, lambda: os.pwrite(descriptor, json.dumps(name).encode(), 0))
    naming.start()
    try:
        with pytest.raises(LockHeld) as refused:
            writer_lock.acquire(tmp_path, command="provisioner apply")
    finally:
        naming.join()
        os.close(descriptor)
    assert "(pid 4242 on host elsewhere" in str(refused.value)
