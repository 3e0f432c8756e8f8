"""A vault stays usable and consistent when the disk says no: a failed move, a thread
that comes and goes, another process deleting the same folder."""

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path

from devon_adapters import DiskModelStore
from tests.contract.vault_builders import put_model

OLD = {"old.bin": b"old"}
NEW = {"new.bin": b"new", "config.json": b"{}"}


def open_index_files(root: Path) -> int:
    """How many of this process's file descriptors point into the vault's state folder."""
    state = str(root / ".devon")
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(state):
                count += 1
        except OSError:
            continue  # closed while we looked
    return count


def failing_at(wanted: str) -> Callable[[str], None]:
    """A step hook for the store: the disk is full when `wanted` completes."""

    def fail(step: str) -> None:
        if step == wanted:
            raise OSError(errno.ENOSPC, "No space left on device")

    return fail


def test_threads_that_ended_leave_no_index_connections_open(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    store = DiskModelStore(root)
    put_model(store)
    for _ in range(40):
        thread = threading.Thread(target=store.list)
        thread.start()
        thread.join()
    # this thread's connection and at most the last ended thread's (db, wal, shm each)
    assert open_index_files(root) <= 6
    store.close()
    assert open_index_files(root) == 0
