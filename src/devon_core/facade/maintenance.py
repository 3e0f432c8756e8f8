"""`Maintenance`: keeping the vault in order: clean, scan, the index, 1.x imports, doctor."""

from collections.abc import Callable, Collection

import attrs

from devon_core import cache_view, use_cases
from devon_core.errors import InvalidInput
from devon_core.facade.hf_cache import HuggingFaceCache
from devon_core.facade.parts import FacadeParts
from devon_core.identifiers import validate_source_name
from devon_core.partial_downloads import clean_partial
from devon_core.ports import IndexedStore
from devon_core.results import (
    DEFAULT_CLEAN_DAYS,
    CleanRequest,
    CleanResult,
    Diagnosis,
    ImportReport,
    IndexCopy,
    ScanResult,
)


class Maintenance:
    """`devon.maintenance`: clean, scan, rebuild or copy the index, import a 1.x vault and
    diagnose the vault and its sources."""

    def __init__(
        self,
        parts: FacadeParts,
        hf_cache: HuggingFaceCache,
        import_legacy: Callable[[str, bool], ImportReport] | None,
    ) -> None:
        self._parts = parts
        self._hf_cache = hf_cache
        self._import_legacy = import_legacy

    def clean(
        self,
        *,
        unused: bool = False,
        days: int = DEFAULT_CLEAN_DAYS,
        all: bool = False,
        dry_run: bool = False,
        only: Collection[str] | None = None,
        partial: bool = False,
        source: str | None = None,
    ) -> CleanResult:
        """Remove unused models, or all. `only` (keys `<source>/<model_id>`) limits the run
        to models a person was shown, e.g. by a dry run, and confirmed. `partial` also
        removes what unfinished downloads hold in staging, except a running one's (and,
        with `only`, just the staging of those keys). `source` limits it to that source's
        models; models of the `local` source (placed by hand) are removed only when it
        names `local`, and are otherwise reported in `skipped_local`."""
        if source is not None:
            validate_source_name(source)
        request = CleanRequest(unused=unused, days=days, all=all, dry_run=dry_run, source=source)
        store = self._parts.store
        result = use_cases.clean(store, self._parts.clock, request, only)
        if not partial:
            return result
        staged = clean_partial(store, dry_run, only)
        return attrs.evolve(
            result, partial_models=staged.models, partial_freed_bytes=staged.freed_bytes
        )

    def scan(
        self, *, reconcile: bool = False, move: bool = False, dry_run: bool = False
    ) -> ScanResult:
        """Register model folders placed in the vault by hand, where they are: under a
        source's folder as that source, anywhere else under the built-in `local` source,
        with metadata inferred from their files. Nothing moves unless `move` (then a folder
        outside a source's folder goes to `local/<name>`, reported in `moved`); nothing is
        written outside the vault. Folders with no model file, still being written, or
        resolving outside the vault are skipped and reported. `reconcile` also drops the
        models whose folder is gone. `dry_run` reports what would be done, changing
        nothing."""
        result = use_cases.scan(
            self._parts.store, self._parts.sources.keys(), reconcile, move=move, dry_run=dry_run
        )
        if not dry_run:
            moved = [m.model for m in result.moved]
            self._hf_cache.follow(
                cache_view.changed_keys([*result.registered, *result.dropped, *moved])
            )
        return result

    def rebuild_index(self) -> int:
        """Re-derive the vault's index from the model directories on disk; the number of
        models it then lists. InvalidInput for a store that has no index."""
        store = self._parts.store
        if not isinstance(store, IndexedStore):
            raise InvalidInput("this vault's store has no index to rebuild")
        count = store.rebuild_index()
        self._hf_cache.relink()
        return count

    def copy_index(self, target: str, *, replace: bool = False) -> IndexCopy:
        """Copy the vault's index to `target` (for the disk vault: `sqlite`, the index file
        in the vault, or a postgresql:// URL); the files stay where they are. InvalidInput
        for a store that has no index, or a target it refuses."""
        store = self._parts.store
        if not isinstance(store, IndexedStore):
            raise InvalidInput("this vault's store has no index to copy")
        return store.copy_index(target, replace=replace)

    def import_legacy(self, legacy_root: str, *, move: bool = False) -> ImportReport:
        """Bring the models of a DEVON 1.x vault into this vault (see
        `devon_adapters.vault.legacy.import_legacy_vault`); its report. InvalidInput when this vault
        cannot import one."""
        if self._import_legacy is None:
            raise InvalidInput("this vault's store cannot import a 1.x vault")
        return self._import_legacy(legacy_root, move)  # commits: the kept view follows

    def diagnose(self) -> Diagnosis:
        """What `devon doctor` shows: the vault's status and free space, and each source
        asked for one model."""
        return use_cases.diagnose(self._parts.store, self._parts.sources)
