"""A leaver deactivated while a run is under way is found by the next change check.

The controller marks where Salesforce's changes start being news before its first run reads the
source. Marked after the run, as it once was, a deactivation made between the run's read and
the end of the run was older than the mark and waited for the next full reconcile (an hour
here): this test then gives up. It deactivates the moment the new hire's accounts appear, which
is inside that window, through the same code as bench/leaver.py.
"""

from __future__ import annotations

from bench import leaver


def test_a_deactivation_right_after_provisioning_is_seen_by_the_change_check() -> None:
    result = leaver.measure(trials=1, change_interval=1.0)  # raises when it gives up waiting

    assert result["trials"] == 1
