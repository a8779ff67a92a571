"""`provisioner run` with a bad source record: logged with user and field, counted, held.

The metric counts quarantined records and never names anyone; the log line names the user
and the field; the user's account is left as it is until the record is fixed.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

import httpx

from tests.e2e.conftest import make_users
from tests.process.conftest import Running, wait_for

Start = Callable[..., Running]
BAD = 4  # user4, Support: has an account


def test_a_quarantined_record_is_logged_counted_and_its_account_left_alone(
    controller: Start,
) -> None:
    running = controller()
    running.wait_cycles(1)
    assert running.metric("provisioner_source_quarantined_users", source="org") == 0
    assert running.metric("provisioner_source_quarantined_records_total", source="org") == 0
    before = running.accounts()["user4@org.example"]

    users = make_users(24)
    del users[BAD]["Email"]
    users[BAD]["IsActive"] = False  # would be a suspension, were the record read
    running.write_users(users)
    running.signal(signal.SIGUSR1)
    running.wait_cycles(2)
    wait_for(
        lambda: running.metric("provisioner_source_quarantined_users", source="org") == 1,
        "the quarantined record counted",
    )
    assert running.metric("provisioner_source_quarantined_records_total", source="org") == 1
    (event,) = running.events("source record quarantined")
    assert event["field"] == "Email" and event["error"] == "missing required field(s): Email"
    assert event["user"].startswith(f"User {users[BAD]['Id']} (user4@org.example) at ")
    assert event["level"] == "warning"
    after = running.accounts()["user4@org.example"]
    assert after["active"] is True and after == before
    body = httpx.get(running.metrics_url, timeout=5).text
    assert users[BAD]["Id"] not in body and "user4@" not in body

    users[BAD]["Email"] = "user4@org.example"
    running.write_users(users)
    running.signal(signal.SIGUSR1)
    running.wait_cycles(3)
    wait_for(
        lambda: running.metric("provisioner_source_quarantined_users", source="org") == 0,
        "the fixed record no longer counted",
    )
    assert running.accounts()["user4@org.example"]["active"] is False  # now a leaver
    assert running.stop() == 0


def test_a_cycle_logs_at_most_twenty_quarantined_records_then_how_many_more(
    controller: Start,
) -> None:
    running = controller()
    running.wait_cycles(1)
    users = make_users(30)
    for bad in users[:25]:
        del bad["Email"]
    running.write_users(users)
    running.signal(signal.SIGUSR1)
    running.wait_cycles(2)
    assert running.stop() == 0
    second: list[dict[str, object]] = []  # what the second cycle logged, whatever came after
    finished = 0
    for event in running.events():
        finished += event.get("event") == "cycle finished"
        if finished == 1:
            second.append(event)
    names = [event.get("event") for event in second]
    assert names.count("source record quarantined") == 20
    (summary,) = [
        event for event in second if event.get("event") == "more source records quarantined"
    ]
    assert summary["not_logged"] == 5 and summary["level"] == "warning"
    assert "provisioner plan" in str(summary["see"])
