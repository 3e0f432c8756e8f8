"""Cross-process, per-model locks: one lock file per model under `.devon/locks/`."""

import hashlib
from pathlib import Path

from filelock import FileLock, Timeout

from devon_adapters.vault.paths import FILE_MODE, make_private_dirs

__all__ = ["Timeout", "lock_name", "model_lock"]


def lock_name(source: str, model_id: str) -> str:
    """A file name for the model's lock: a hash, so no id can shape a path."""
    digest = hashlib.sha256(f"{source}\0{model_id}".encode()).hexdigest()[:32]
    return f"{digest}.lock"


def model_lock(locks_dir: Path, source: str, model_id: str) -> FileLock:
    """The lock of one model. Re-entrant within a thread (the same object is returned for one
    path in a process); exclusive between threads and between processes. Pass a timeout to
    `acquire` when waiting forever is wrong."""
    make_private_dirs(locks_dir)
    return FileLock(
        locks_dir / lock_name(source, model_id),
        mode=FILE_MODE,
        is_singleton=True,
    )
