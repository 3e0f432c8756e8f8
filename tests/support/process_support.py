"""Processes a test started, with what they started in turn (Linux `/proc`)."""

import contextlib
import os
from pathlib import Path


def children_of(pid: int) -> list[int]:
    """The processes `pid` started that still run."""
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def descendants_of(pid: int) -> list[int]:
    """`pid`'s children, theirs, and so on."""
    found: list[int] = []
    waiting = [pid]
    while waiting:
        children = children_of(waiting.pop())
        found += children
        waiting += children
    return found


def signal_host(pid: int, signum: int) -> None:
    """`signum` to a `devon serve` process (`pid`, which leads its process group) and to
    every process under it: its workers share its group, but its download processes lead
    sessions of their own (ADR 0133). They are found before any is signalled, so that none
    is missed for having been orphaned by the signal."""
    under = descendants_of(pid)
    os.killpg(pid, signum)
    for process in under:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process, signum)
