"""What a download would fetch, worked out without fetching anything (`--dry-run`)."""

from collections.abc import Sequence

import attrs

from devon_core.filters import validate_include_patterns
from devon_core.identifiers import validate_model_id
from devon_core.models import RemoteFile
from devon_core.ports import ModelSource, ModelStore
from devon_core.references import ModelReference
from devon_core.rules import select_files


@attrs.frozen
class DownloadPlan:
    """The files a download would fetch and their total. `present`: the vault already holds
    the model, so a download without `force` would fetch nothing."""

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
    model_id: str,
    *,
    include_patterns: Sequence[str] | None = None,
    reference: ModelReference | None = None,
    require_choice: bool = False,
) -> DownloadPlan:
    """The same choice of files `use_cases.download` makes, and the same errors, with no
    lock taken and nothing written."""
    validate_model_id(model_id)
    patterns = validate_include_patterns(include_patterns)
    remote = source.info(model_id)
    wanted = select_files(remote, patterns, reference, require_choice=require_choice)
    present = store.get(source.name, model_id) is not None
    return DownloadPlan(model_id, source.name, remote.revision, wanted, present)
