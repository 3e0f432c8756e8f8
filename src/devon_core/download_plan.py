"""What a download would fetch, worked out without fetching anything (`--dry-run`)."""

from collections.abc import Sequence

import attrs

from devon_core.filters import validate_include_patterns
from devon_core.identifiers import validate_model_id
from devon_core.models import RemoteFile
from devon_core.ports import Clock, ModelSource, ModelStore
from devon_core.rules import select_files
from devon_core.use_cases import covers


@attrs.frozen
class DownloadPlan:
    """The files a download would fetch and their total. `present`: the vault already holds
    the model (a download then fetches only what it lacks: possibly nothing)."""

    model_id: str
    source: str
    revision: str | None
    files: tuple[RemoteFile, ...]
    present: bool
    total_bytes: int = attrs.field(
        init=False,
        default=attrs.Factory(lambda self: sum(f.size_bytes for f in self.files), takes_self=True),
    )


def plan_download(
    source: ModelSource,
    store: ModelStore,
    clock: Clock,
    model_id: str,
    *,
    include_patterns: Sequence[str] | None = None,
    force: bool = False,
) -> DownloadPlan:
    """The files `use_cases.download` would fetch for the same request, by the same rules
    (what the patterns select, less what the vault's copy holds unless `force`), with no
    lock taken and nothing written."""
    validate_model_id(model_id)
    patterns = validate_include_patterns(include_patterns)
    remote = source.info(model_id)
    wanted = select_files(remote, patterns)
    present = store.get(source.name, model_id)
    if present is not None and covers(present, patterns, force, clock.now()):
        fetch: tuple[RemoteFile, ...] = ()
    else:
        held = set(present.files) if present is not None else set()
        fetch = tuple(f for f in wanted if force or f.path not in held)
    return DownloadPlan(model_id, source.name, remote.revision, fetch, present is not None)
