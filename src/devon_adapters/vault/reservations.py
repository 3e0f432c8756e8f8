"""Room held for downloads in flight, so that two downloads never both count on the same free
space: one file per download under `.devon/reservations/`, written and read under one
vault-wide lock (`DiskModelStore.reserve`)."""

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from devon_adapters.index.backends import IndexBackend, Lock
from devon_adapters.vault.locks import Timeout, lock_name
from devon_adapters.vault.paths import FILE_MODE, VaultPaths, staged_bytes
from devon_core.errors import InvalidInput
from devon_core.identifiers import validate_model_id, validate_source_name
from devon_core.results import StagingArea, StorageSpace

RESERVATIONS_LOCK = "reservations.lock"


@attrs.frozen
class Reservation:
    """Room held for a download in flight (see `DiskModelStore.reserve`)."""

    source: str
    model_id: str
    adding_bytes: int
    replacing_bytes: int


class Reservations:
    """The reservations of one vault; `space` gives the vault's space as it is now."""

    def __init__(
        self, paths: VaultPaths, backend: IndexBackend, space: Callable[[], StorageSpace]
    ) -> None:
        self._paths = paths
        self._backend = backend
        self._space = space

    @contextmanager
    def hold(
        self,
        staging: StagingArea,
        adding_bytes: int,
        replacing_bytes: int,
        check: Callable[[StorageSpace], None],
    ) -> Iterator[None]:
        """One file per download in flight under `.devon/reservations/`, written and read
        under one vault-wide lock; a file whose model lock is free (its process died) is
        stale and removed. What another download still has to write is its size less what
        its staging directory holds now."""
        source, model_id = staging.source, staging.model_id
        mine = self._paths.reservations / lock_name(source, model_id)
        with self._lock():
            still_to_write = adding = 0
            for other in self._in_flight(exclude=mine):
                staged = staged_bytes(self._paths.staging(other.source, other.model_id))
                still_to_write += max(other.adding_bytes - staged, 0)
                adding += other.adding_bytes - other.replacing_bytes
            space = self._space()
            check(
                attrs.evolve(
                    space,
                    free_bytes=space.free_bytes - still_to_write,
                    used_bytes=space.used_bytes + adding,
                )
            )
            claim = Reservation(source, model_id, adding_bytes, replacing_bytes)
            _write_private(mine, json.dumps(attrs.asdict(claim)))
        try:
            yield
        finally:
            self.release(source, model_id)

    def release(self, source: str, model_id: str) -> None:
        with self._lock():
            (self._paths.reservations / lock_name(source, model_id)).unlink(missing_ok=True)

    def _in_flight(self, exclude: Path) -> list[Reservation]:
        found = []
        for path in sorted(self._paths.reservations.iterdir()):
            if path == exclude:
                continue
            try:
                claim = Reservation(**json.loads(path.read_text()))
                validate_source_name(claim.source)
                validate_model_id(claim.model_id)
            except (OSError, ValueError, TypeError, InvalidInput):
                path.unlink(missing_ok=True)  # unreadable: nobody can be holding it
                continue
            lock = self._backend.model_lock(claim.source, claim.model_id)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                found.append(claim)  # its download is running
                continue
            try:
                path.unlink(missing_ok=True)  # left by a process that is gone
            finally:
                lock.release()
        return found

    def _lock(self) -> Lock:
        return self._backend.named_lock(RESERVATIONS_LOCK)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(
        path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), FILE_MODE
    )
    with os.fdopen(fd, "w") as out:
        out.write(text)
