"""`make bench`: every benchmark in one run, written to bench/RESULTS.md with its command.

Each measurement runs as its own process (so one's memory and threads do not colour the next),
prints one JSON line per result, and is quoted here with the command that reproduces it. The
machine is described at the top; ratios are the figures to compare between machines.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
PLANNING_SIZES = (1_000, 10_000, 100_000)
CYCLE_USERS = int(os.environ.get("BENCH_CYCLE_USERS", "2000"))
"""10,000 (the issue's size) does not fit in make bench's 20 minutes: scim2-server costs O(n) per
write, and a 10,000 x 3 first sync alone took over 14 minutes (see RESULTS.md)."""
POLICY_RULES = (2_000, 10_000)
CHANGE_SIZES = (1_000, 10_000)
CHANGE_TRIALS = int(os.environ.get("BENCH_CHANGE_TRIALS", "20"))
"""Trials per kind of change and size; bench.change_latency reads the same variable."""


def _run(*args: str) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", *args]
    print(f"$ python -m {' '.join(args)}", file=sys.stderr, flush=True)
    done = subprocess.run(command, cwd=HERE.parent, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for row in rows:
        print(f"  {row}", file=sys.stderr, flush=True)
    return rows


def _growth(rows: list[dict[str, Any]], key: str) -> str:
    """The exponent k in cost ~ n^k between the smallest and largest size."""
    first, last = rows[0], rows[-1]
    if first[key] <= 0:
        return "n/a"
    exponent = math.log(last[key] / first[key]) / math.log(last["users"] / first["users"])
    return f"n^{exponent:.2f}"


def planning() -> list[str]:
    fast = [_run("bench.planning", str(n))[0] for n in PLANNING_SIZES]
    slow = [_run("bench.planning", str(n), "--deepdiff-always")[0] for n in PLANNING_SIZES[:2]]
    lines = [
        "## Planning (pure core: evaluate the policy, plan 3 apps, 1% drift)",
        "",
        "`python -m bench.planning USERS [--deepdiff-always]`, one process per row; peak is the",
        "process's resident memory, inputs included (the source read and three observed apps).",
        "",
        "| users | accounts | compare | seconds | peak MiB | operations |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for row in fast + slow:
        lines.append(
            f"| {row['users']:,} | {row['accounts']:,} | {row['variant']} | {row['seconds']} "
            f"| {row['peak_mib']} | {row['operations']} |"
        )
    ratio = [s["seconds"] / f["seconds"] for f, s in zip(fast, slow, strict=False)]
    sizes = ", ".join(f"{row['users']:,}" for row in slow)
    lines += [
        "",
        f"- deepdiff on every account costs {', '.join(f'{r:.1f}x' for r in ratio)} the time of "
        "plain equality first (deepdiff only where accounts differ), at "
        f"{sizes} users: equality first is kept.",
        f"- Growth from {fast[0]['users']:,} to {fast[-1]['users']:,} users: time "
        f"{_growth(fast, 'seconds')}, peak memory {_growth(fast, 'peak_mib')} (memory includes a "
        "fixed ~90 MiB of interpreter and libraries, so its exponent understates the slope).",
        f"- Target: 100,000 users x 3 apps under 5 s and 1 GiB: {fast[-1]['seconds']} s, "
        f"{fast[-1]['peak_mib']} MiB.",
        "",
    ]
    return lines


def cycle() -> list[str]:
    rows = _run("bench.cycle", str(CYCLE_USERS))
    lines = [
        f"## A full cycle against three SCIM emulators, {CYCLE_USERS:,} users x 3 apps",
        "",
        f"`python -m bench.cycle {CYCLE_USERS}`. Lower bound: the fewest requests (pages to list",
        "users and groups, plus one write per changed account) sent by a plain async httpx loop",
        "at the executor's concurrency (8 writes per app, three apps at once), measured in the",
        "same run; for (c) into three fresh emulators.",
        "",
        "| scenario | observe+plan s | apply s | total s | our requests | bound requests "
        "| bound s | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ours = row["requests_observe"] + row["requests_apply"]
        lines.append(
            f"| {row['scenario']} | {row['observe_plan_s']} | {row['apply_s']} | "
            f"{row['total_s']} | {ours:,} | {row['bound']['requests']:,} | "
            f"{row['bound']['seconds']} | **{row['ratio']}x** |"
        )
    failed = sum(row["failed"] for row in rows)
    lines += [
        "",
        f"Operations that failed across the three scenarios: {failed}.",
        "",
        "At the issue's 10,000 users x 3 apps this benchmark does not fit in `make bench`'s 20",
        "minutes: scim2-server (the emulators' store) costs O(n) per write, and a group PATCH",
        "re-validates every member. Run by hand (`python -m bench.cycle 10000`), after 14",
        "minutes the first sync had created all 30,000 accounts and 58% of the memberships, with",
        "the three emulator processes at 50% CPU each and the controller at 20%: emulator-bound.",
        "",
    ]
    return lines


def _change_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"### {rows[0]['users']:,} users x {rows[0]['apps']} apps",
        "",
        "| change | trials | median s | p95 s | max s | found by a check, median s "
        "| its cycle, median s | Salesforce calls per trial | beyond the checks, median / max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        timeouts = f" ({row['timeouts']} timed out)" if row["timeouts"] else ""
        lines.append(
            f"| {row['kind']} | {row['trials']}{timeouts} | {row.get('median_s', '-')} "
            f"| **{row.get('p95_s', '-')}** | {row.get('max_s', '-')} "
            f"| {row['detected_median_s']} | {row['cycle_median_s']} | {row['sf_calls_per_trial']} "
            f"| **{row['sf_calls_beyond_check_median']}** / {row['sf_calls_beyond_check_max']} |"
        )
    first = rows[0]
    lines += [
        "",
        f"First full cycle: {first['first_cycle_s']} s, {first['first_cycle_operations']} "
        f"operations planned (the seeded world needs none). One change check: "
        f"{first['sf_calls_per_check']} Salesforce calls (an idle stretch's count per check).",
        "",
    ]
    return lines


def change_latency() -> list[str]:
    """Leaver, joiner and mover latency per size, and p95's growth between the sizes."""
    by_size = {n: _run("bench.change_latency", str(n)) for n in CHANGE_SIZES}
    small, large = (by_size[n] for n in (CHANGE_SIZES[0], CHANGE_SIZES[-1]))
    lines = [
        "## Change latency (a change in Salesforce -> seen in every app it touches)",
        "",
        f"`BENCH_CHANGE_TRIALS={CHANGE_TRIALS} python -m bench.change_latency USERS`, one process",
        "per size: the org seeded straight into the emulators as already provisioned (Slack, Jira,",
        "Zendesk; the example policy), `provisioner run --change-interval 2 --interval 3600`, then",
        "one change at a time at a random point of the check's period, each app polled every",
        "50 ms. A leaver is a support agent deactivated (suspended in all three apps), a joiner a",
        "support agent hired (active in all three, in their groups), a mover an engineer moved to",
        "Support (Slack and Jira groups changed, a new Zendesk agent). Salesforce calls per trial",
        "are the controller's /metrics count from the change to the end of the cycle it caused;",
        "beyond the checks, those less the change checks' own calls (checks go on every 2 s",
        "during a cycle, and a check that finds a change also reads the changed users).",
        "",
    ]
    lines += _change_table(small) + _change_table(large)
    lines += [
        f"### p95 at {CHANGE_SIZES[-1]:,} users over p95 at {CHANGE_SIZES[0]:,}",
        "",
        "| change | ratio |",
        "|---|---:|",
    ]
    for low, high in zip(small, large, strict=True):
        if "p95_s" in low and "p95_s" in high and low["p95_s"] > 0:
            lines.append(f"| {low['kind']} | **{high['p95_s'] / low['p95_s']:.2f}x** |")
    lines += [
        "",
        f"Targets (issue 16): p95 <= 5 s at {CHANGE_SIZES[-1]:,} users for each kind; p95 at "
        f"{CHANGE_SIZES[-1]:,} <= 1.3x p95 at {CHANGE_SIZES[0]:,}; <= 2 Salesforce calls per",
        "targeted cycle beyond the check itself.",
        "",
    ]
    return lines


def policy_load() -> list[str]:
    """Loading a large policy as `validate` and every reload under `run` do (issue 17)."""
    rows = [_run("bench.policy_load", str(n))[0] for n in POLICY_RULES]
    small, large = rows[0], rows[-1]
    exponent = math.log(large["cpu_seconds"] / small["cpu_seconds"]) / math.log(
        large["rules"] / small["rules"]
    )
    lines = [
        "## Policy loading (YAML read, validated and cross-checked)",
        "",
        "`python -m bench.policy_load RULES`, one process per row: `desired-state/`'s Source and",
        "apps plus RULES AccessRules in one file; the best of three loads after a warm one. CPU",
        "time is the figure to compare (the wall time also counts other processes' turns); the",
        "reference is a fixed pure-Python loop's CPU time, to tell a slow machine from a slow",
        "loader.",
        "",
        "| rules | file MiB | CPU s | wall s | reference loop CPU s | peak MiB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['rules']:,} | {row['file_mib']} | {row['cpu_seconds']} | {row['seconds']} "
            f"| {row['reference_loop_cpu_seconds']} | {row['peak_mib']} |"
        )
    lines += [
        "",
        f"- Growth from {small['rules']:,} to {large['rules']:,} rules: CPU n^{exponent:.2f}.",
        f"- Target (issue 17): {large['rules']:,} rules in under 2 s: "
        f"**{large['cpu_seconds']} s** of CPU, {'met' if large['cpu_seconds'] < 2 else 'missed'}."
        " libyaml's event stream alone (PyYAML's fastest reader) costs about a third of it.",
        "",
    ]
    return lines


SECTIONS = {
    "planning": planning,
    "cycle": cycle,
    "change": change_latency,
    "policy": policy_load,
}


def _splice(sections: list[str]) -> list[str]:
    """RESULTS.md with the `## ` sections given replaced (matched by heading), others kept."""

    def blocks(lines: list[str]) -> list[list[str]]:
        found: list[list[str]] = [[]]
        for line in lines:
            if line.startswith("## "):
                found.append([])
            found[-1].append(line)
        return found

    old = blocks(RESULTS.read_text().splitlines()) if RESULTS.exists() else [[]]
    new = {block[0]: block for block in blocks(sections)[1:]}
    kept = [new.pop(block[0], block) if block and block[0] in new else block for block in old]
    return [line for block in kept + list(new.values()) for line in block]


def main() -> None:
    """Every section, or with arguments (`python -m bench.run change`) only those, spliced into
    the RESULTS.md already there."""
    chosen = sys.argv[1:]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; choose from {sorted(SECTIONS)}")
    started = time.monotonic()
    if chosen:
        sections = [line for name in chosen for line in SECTIONS[name]()]
        RESULTS.write_text("\n".join(_splice(sections)).rstrip() + "\n")
        print(f"updated {', '.join(chosen)} in {RESULTS}", file=sys.stderr)
        return
    sections = planning() + cycle() + change_latency() + policy_load()
    minutes = (time.monotonic() - started) / 60
    header = [
        "# Benchmark results",
        "",
        f"Written by `make bench` ({minutes:.1f} minutes) on {platform.node() or 'this machine'}: "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}. "
        "Absolute times vary between machines and runs; the ratios are measured within one run.",
        "",
    ]
    RESULTS.write_text("\n".join(header + sections).rstrip() + "\n")
    print(f"wrote {RESULTS} in {minutes:.1f} minutes", file=sys.stderr)


if __name__ == "__main__":
    main()
