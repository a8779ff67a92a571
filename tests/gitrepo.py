"""Real git repositories in temporary folders, for the tests of the GitOps workflow."""

from __future__ import annotations

import subprocess
from pathlib import Path

SALES_RULE = """\
---
apiVersion: provisioner/v1
kind: AccessRule
metadata: {name: sales}
spec:
  when: {department: [Sales]}
  grant: [{app: tool, groups: [sales]}]
"""
"""A policy change for tests/e2e/conftest.POLICY: Sales, who had nothing, get the tool."""


def git(directory: Path, *args: str) -> str:
    """Run git in `directory` as a test author; its output, stripped."""
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def init(directory: Path) -> None:
    git(directory, "init", "--quiet", "--initial-branch=main")


def commit(directory: Path, message: str) -> str:
    """Commit everything in `directory`; returns the full SHA."""
    git(directory, "add", "--all")
    git(directory, "commit", "--quiet", "-m", message)
    return git(directory, "rev-parse", "HEAD")
