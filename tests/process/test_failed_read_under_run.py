"""A failed source read under `provisioner run` is never reported as "in sync" (issue 15).

Neither in the `cycle finished` log line nor in the drift gauges, where every account would
otherwise turn into an orphan.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

from tests.process.conftest import Running

Start = Callable[..., Running]


def test_a_failed_read_is_not_logged_in_sync_and_turns_nobody_into_an_orphan(
    controller: Start,
) -> None:
    running = controller(24)
    running.wait_cycles(1)
    running.signal(signal.SIGUSR1)
    running.wait_cycles(2)
    assert running.events("cycle finished")[1]["in_sync"] is True  # a good read, nothing to do

    running.users_file.write_text("users: [{Id: 005Hs00000E2E00001, Email: [unclosed\n")
    running.signal(signal.SIGUSR1)
    running.wait_cycles(3)
    assert running.events("cycle finished")[2]["in_sync"] is False
    assert running.metric("provisioner_source_read_errors_total", source="org") == 1.0
    assert running.metric("provisioner_drift_accounts", app="tool", kind="orphaned") == 0.0
    assert len(running.accounts()) == 16
    assert running.stop() == 0
