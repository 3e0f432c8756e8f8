"""Room kept on the vault's disk for the index to record job ends when the disk is full
(ADR 0205).

`<vault>/.devon/index-reserve` is a file of `RESERVE_BYTES` allocated blocks. When a write
of the SQLite index fails for lack of space, the file is deleted, which gives those blocks
back to the filesystem, and the write is tried again: a job that failed because the disk
filled can still be recorded as failed. The file is made again once the disk has room for
it and as much again; until then the room check of downloads counts it as taken, so that a
download does not take the room back."""

import contextlib
import errno
import logging
import os
import shutil
import threading
import time
from pathlib import Path

from devon_adapters.vault.paths import FILE_MODE

log = logging.getLogger("devon.index")

RESERVE_BYTES = 2 * 1024 * 1024
"""Enough for hundreds of job ends and their write-ahead log frames (4 KiB pages)."""
RETRY_AFTER_S = 5.0
"""How often an index whose reserve is gone tries to make it again."""


class SpaceReserve:
    """The reserve file of one vault. Safe to share between threads; processes on the vault
    each hold their own object for the same file."""

    def __init__(self, path: Path, size: int = RESERVE_BYTES) -> None:
        self.path = path
        self.size = size
        self._lock = threading.Lock()
        self._next_try = 0.0

    def present(self) -> bool:
        return self.path.exists()

    def missing_bytes(self) -> int:
        """What the reserve lacks now: free space a download must leave alone."""
        return 0 if self.present() else self.size

    def release(self) -> bool:
        """Give the reserve's blocks back to the filesystem; whether there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        log.warning(
            "The vault's disk is full: released the index's reserve (%s) to record job ends",
            self.path,
        )
        self._next_try = time.monotonic() + RETRY_AFTER_S
        return True

    def restore(self) -> bool:
        """Make the reserve if it is missing and the disk has room for it twice over
        (tried at most every `RETRY_AFTER_S`); whether it is there now."""
        if self.present():
            return True
        with self._lock:
            now = time.monotonic()
            if now < self._next_try:
                return False
            self._next_try = now + RETRY_AFTER_S
            try:
                if shutil.disk_usage(self.path.parent).free < 2 * self.size:
                    return False
                self._allocate()
            except OSError as error:
                log.debug("Index reserve not made (%s)", error)
                return False
            return True

    def _allocate(self) -> None:
        """Write the file whole under a temporary name, then rename it: a reserve is either
        all there or not at all."""
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            try:
                os.posix_fallocate(fd, 0, self.size)
            except OSError as error:  # a filesystem without fallocate: write the blocks
                if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                block = b"\0" * (64 * 1024)
                for _ in range(0, self.size, len(block)):
                    os.write(fd, block)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        os.close(fd)
        os.replace(partial, self.path)
