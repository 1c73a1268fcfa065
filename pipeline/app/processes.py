"""Processes as Linux's /proc shows them: whose child each one is, and which
still run (a zombie has ended). The annotate runner's workers must end with
their parent; the tests and the memory benchmark check that they do."""

from __future__ import annotations

import os
from pathlib import Path


def _stat_fields(pid: int | str) -> list[str]:
    # the command name, in parentheses, may itself hold spaces and parentheses
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree() -> dict[int, list[int]]:
    """Parent pid -> the pids of its children, for every process now listed in /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(_stat_fields(entry)[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry))
    return tree


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid``."""
    return process_tree().get(pid, [])


def running(pid: int) -> bool:
    """Whether ``pid`` exists and has not ended (zombies and dead tasks have)."""
    try:
        return _stat_fields(pid)[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False
