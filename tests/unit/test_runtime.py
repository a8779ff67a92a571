"""Process-wide tuning: the open-file limit the controller starts with."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

SHOW_LIMIT = (
    "import resource; from controller import runtime; runtime.raise_open_file_limit(); "
    "print(*resource.getrlimit(resource.RLIMIT_NOFILE))"
)


def test_the_soft_open_file_limit_is_raised_to_the_hard_one() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard limit on open files ({hard}) leaves nothing to raise")

    def start_low() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    done = subprocess.run(
        [sys.executable, "-c", SHOW_LIMIT],
        preexec_fn=start_low,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    soft_after, hard_after = (int(n) for n in done.stdout.split())
    assert hard_after == hard
    if hard == resource.RLIM_INFINITY:
        assert soft_after > 256
    else:
        assert soft_after == hard
