"""Reclaiming what unfinished downloads hold in staging (`devon clean --partial`)."""

from collections.abc import Collection

import attrs

from devon_core.ports import ModelStore


@attrs.frozen
class PartialClean:
    models: tuple[str, ...]
    freed_bytes: int


def clean_partial(
    store: ModelStore, dry_run: bool, only: Collection[str] | None = None
) -> PartialClean:
    """Remove the staging of every download no one is running now (a dry run only reports
    it). A download that starts meanwhile keeps its staging: each is removed under its
    model's lock, taken without waiting."""
    idle = [s for s in store.staged() if not s.in_use and (only is None or s.key in only)]
    if dry_run:
        return PartialClean(tuple(s.key for s in idle), sum(s.size_bytes for s in idle))
    removed: list[str] = []
    freed = 0
    for staged in idle:
        size = store.discard_staging(staged.source, staged.model_id)
        if size is not None:
            removed.append(staged.key)
            freed += size
    return PartialClean(tuple(removed), freed)
