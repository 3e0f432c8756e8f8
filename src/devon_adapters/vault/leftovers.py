"""Downloads left in staging (`.devon/staging/`): what each holds, whether its download is
still running (its model lock is held), and discarding one that is not."""

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from devon_adapters.index.backends import IndexBackend
from devon_adapters.transfer.staging_layout import arrived_bytes
from devon_adapters.vault.locks import Timeout
from devon_adapters.vault.paths import VaultPaths
from devon_adapters.vault.trees import bytes_under, delete_tree, valid_children
from devon_core.identifiers import validate_model_id, validate_source_name
from devon_core.results import SOURCE_STATE_DIR, StagedDownload


class StagingLeftovers:
    """The staging directories of one vault, as `DiskModelStore.staged` and
    `discard_staging` report and discard them."""

    def __init__(self, paths: VaultPaths, backend: IndexBackend) -> None:
        self._paths = paths
        self._backend = backend

    def staged(self) -> list[StagedDownload]:
        found = []
        for (source, model_id), directory in self._staging_dirs():
            found.append(
                StagedDownload(
                    source,
                    model_id,
                    bytes_under(directory),
                    self._in_use(source, model_id),
                    arrived_bytes(directory),
                )
            )
        return found

    def discard_staging(self, source: str, model_id: str) -> int | None:
        staging = self._paths.staging(source, model_id)
        lock = self._backend.model_lock(source, model_id)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return None
        try:
            if not os.path.lexists(staging):
                return 0
            self._paths.ensure_inside(staging)
            size = bytes_under(staging)
            delete_tree(staging)
            owner = staging.parent
            if owner != self._paths.staging_root / source:
                with contextlib.suppress(OSError):  # not empty: other models' staging
                    owner.rmdir()
            return size
        finally:
            lock.release()

    def _in_use(self, source: str, model_id: str) -> bool:
        lock = self._backend.model_lock(source, model_id)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return True
        lock.release()
        return False

    def _staging_dirs(self) -> Iterator[tuple[tuple[str, str], Path]]:
        """Each download's staging directory: `<staging>/<source>/<owner>/<name>`, or
        `<staging>/<source>/<name>` for a bare id (a directory with files or download state
        of its own)."""
        for source_dir in valid_children(self._paths.staging_root, validate_source_name):
            for first in valid_children(source_dir, validate_model_id):
                entries = list(os.scandir(first))
                if any(
                    not e.is_dir(follow_symlinks=False) or e.name == SOURCE_STATE_DIR
                    for e in entries
                ):
                    yield (source_dir.name, first.name), first
                    continue
                for directory in valid_children(first, validate_model_id):
                    yield (source_dir.name, f"{first.name}/{directory.name}"), directory
