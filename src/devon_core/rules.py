"""Pure rules of the vault: what clean removes, what export holds, whether a download fits."""

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from devon_core.errors import (
    ChoiceNeeded,
    InsufficientStorage,
    InvalidInput,
    InvalidRequest,
    SelectionNotFound,
)
from devon_core.filters import matches_any
from devon_core.identifiers import LOCAL_SOURCE
from devon_core.models import LocalModel, RemoteFile, RemoteModel
from devon_core.quantizations import group_quantizations, with_whole_shard_sets
from devon_core.references import ModelReference
from devon_core.results import (
    CleanRequest,
    ExportEntry,
    ExportFormat,
    ExportResult,
    StorageSpace,
)
from devon_core.runtime_paths import runtime_paths
from devon_core.suggestions import did_you_mean


def select_for_clean(
    models: Iterable[LocalModel], request: CleanRequest, now: datetime
) -> list[LocalModel]:
    """The models a clean removes: all of them with `all`; with `unused`, those whose
    reference time is earlier than `now - days`; with neither flag, none. Only the models of
    `request.source` when it names one; never a `local` model unless it names `local`: a
    hand-placed folder may be the only copy anywhere (see `spared_by_clean`)."""
    return [m for m in _due_for_clean(models, request, now) if _named_by(request, m)]


def spared_by_clean(
    models: Iterable[LocalModel], request: CleanRequest, now: datetime
) -> list[LocalModel]:
    """The `local` models `request` would select by age or `all`, kept only because it did
    not name the `local` source (what a clean reports it left alone)."""
    if request.source is not None:
        return []
    return [m for m in _due_for_clean(models, request, now) if m.source == LOCAL_SOURCE]


def _named_by(request: CleanRequest, model: LocalModel) -> bool:
    if request.source is None:
        return model.source != LOCAL_SOURCE
    return model.source == request.source


def _due_for_clean(
    models: Iterable[LocalModel], request: CleanRequest, now: datetime
) -> list[LocalModel]:
    if request.all:
        return list(models)
    if not request.unused:
        return []
    try:
        cutoff = now - timedelta(days=request.days)
    except OverflowError:  # more days than the calendar holds: nothing is that old
        return []
    return [model for model in models if model.reference_time < cutoff]


def _sort_key(model: LocalModel) -> tuple[str, str]:
    return (model.source, model.model_id)


def build_export(
    models: Iterable[LocalModel], export_format: ExportFormat, gguf_files: bool = False
) -> ExportResult:
    """The export of `models`, sorted by (source, model_id). With `gguf_files` (kitt only),
    a model holding GGUF quantisations gives one line per quantisation, the file a runtime
    opens (ADR 0237), instead of its folder."""
    ordered = sorted(models, key=_sort_key)
    if export_format is ExportFormat.KITT and gguf_files:
        return ExportResult.kitt(path for model in ordered for path in runtime_paths(model))
    if gguf_files:
        raise InvalidRequest("gguf_files applies to the kitt format only (one path a line)")
    if export_format is ExportFormat.KITT:
        return ExportResult.kitt(model.path for model in ordered)
    entries = tuple(
        ExportEntry(
            source=m.source,
            model_id=m.model_id,
            path=m.path,
            size_bytes=m.size_bytes,
            downloaded_at=m.downloaded_at,
            files=m.files,
        )
        for m in ordered
    )
    return ExportResult.json(entries)


def select_files(
    model: RemoteModel,
    patterns: Sequence[str] | None,
    reference: ModelReference | None = None,
    *,
    require_choice: bool = False,
) -> tuple[RemoteFile, ...]:
    """The files of `model` a download fetches: all, or those matching one of `patterns`,
    plus what `reference` selects (one quantisation, or exact files with the rest of their
    shard set). A quantisation or file the model lacks is NotFound. With `require_choice`,
    a repository of several quantisations and no selection at all is refused (ChoiceNeeded)."""
    if reference is None or not reference.selects:
        if require_choice and patterns is None:
            _refuse_without_a_choice(model)
        return tuple(f for f in model.files if matches_any(f.path, patterns))
    _check_revision(model, reference)
    chosen = set(_chosen_paths(model, reference))
    return tuple(
        f
        for f in model.files
        if f.path in chosen or (patterns is not None and matches_any(f.path, patterns))
    )


def _refuse_without_a_choice(model: RemoteModel) -> None:
    quants = group_quantizations(model.files)
    if len(quants) > 1:
        raise ChoiceNeeded(
            f"{model.model_id} holds {len(quants)} GGUF quantisations: pick one with "
            f"--quant (e.g. --quant {quants[0].name}, or {model.model_id}:{quants[0].name}), "
            "or take them all with --all",
            model.model_id,
            quants,
        )


def _check_revision(model: RemoteModel, reference: ModelReference) -> None:
    asked = reference.revision
    if asked in (None, "main") or (model.revision and model.revision.startswith(asked or "")):
        return
    raise InvalidInput(
        f"{model.model_id}: DEVON fetches the current revision ({model.revision or 'main'}), "
        f"not {asked!r}; use a 'main' URL or the plain id"
    )


def _chosen_paths(model: RemoteModel, reference: ModelReference) -> tuple[str, ...]:
    every = [f.path for f in model.files]
    if reference.quantization is not None:
        quants = group_quantizations(model.files)
        by_name = {q.name: q for q in quants}
        wanted = reference.quantization.upper()
        if wanted not in by_name:
            names = [q.name for q in quants]
            held = f"it has {', '.join(names)}" if names else "it has no GGUF quantisations"
            raise SelectionNotFound(
                f"{model.model_id} has no quantisation {reference.quantization!r}"
                f"{did_you_mean(wanted, names)}: {held}"
            )
        return by_name[wanted].files
    missing = [path for path in reference.files if path not in every]
    if missing:
        raise SelectionNotFound(
            f"{model.model_id} has no file {missing[0]!r}{did_you_mean(missing[0], every)}; "
            f"see 'devon info {model.model_id} --files'"
        )
    return with_whole_shard_sets(reference.files, every)


def quantization_of(model: RemoteModel, files: Sequence[str]) -> str | None:
    """The quantisations of `model` (comma-separated, as sources report them) that the
    downloaded `files` hold: a `*Q4_K_M*` download of a repo of nine GGUF files is `Q4_K_M`.
    A quantisation no file name mentions (AWQ, GPTQ) applies to the whole repo and is kept."""
    if not model.quantization:
        return None
    kinds = [kind for kind in model.quantization.split(",") if kind]
    named = [kind for kind in kinds if any(_names(f.path, kind) for f in model.files)]
    held = [kind for kind in named if any(_names(path, kind) for path in files)]
    unnamed = [kind for kind in kinds if kind not in named]
    return ",".join(held + unnamed) or None


def _names(path: str, kind: str) -> bool:
    """Whether `path` names `kind` as a whole token: `F16` is not in `BF16`, nor `Q4_K` in
    `Q4_K_M`."""
    pattern = rf"(?<![a-z0-9]){re.escape(kind.lower())}(?![a-z0-9_])"
    return re.search(pattern, path.lower()) is not None


def check_room(
    needed_bytes: int,
    space: StorageSpace,
    replacing_bytes: int = 0,
    adding_bytes: int | None = None,
) -> None:
    """Raise InsufficientStorage when `needed_bytes` more would not fit on disk or in quota.

    `needed_bytes` is what is still to be written (bytes already staged are not);
    `adding_bytes` what the model will take in the vault once committed (default: the
    same). `replacing_bytes` is the size of an older copy the download replaces: it still
    takes disk space until the new copy is committed, but it no longer counts against the
    quota. `space` is what the other downloads in flight leave (see `ModelStore.reserve`).
    """
    if needed_bytes > space.free_bytes:
        raise not_enough_disk(needed_bytes, space.free_bytes)
    adding = needed_bytes if adding_bytes is None else adding_bytes
    used_after = space.used_bytes - replacing_bytes + adding
    if space.quota_bytes is not None and used_after > space.quota_bytes:
        left = max(space.quota_bytes - space.used_bytes + replacing_bytes, 0)
        raise InsufficientStorage(
            f"Storage quota exceeded: the download needs {format_bytes(adding)}, "
            f"{format_bytes(left)} of the {format_bytes(space.quota_bytes)} quota is left "
            f"(raise {space.quota_setting or 'the quota'} or clean the vault)"
        )


def not_enough_disk(needed_bytes: int, free_bytes: int) -> InsufficientStorage:
    """The error for a disk without room: refused up front, or full in mid-download."""
    return InsufficientStorage(
        f"Not enough free disk space: the download needs {format_bytes(needed_bytes)}, "
        f"{format_bytes(max(free_bytes, 0))} is free"
    )


_UNITS = ("KiB", "MiB", "GiB", "TiB")
"""IEC names for powers of 1024 (ADR 0235): what the size filter reads as kb/kib, mb/mib..."""


def format_bytes(count: float) -> str:
    """Human size in powers of 1024, with IEC names: `1.5 GiB` (ADR 0235)."""
    if abs(count) < 1024:
        return f"{count:.0f} B"
    for unit in _UNITS:
        count /= 1024
        if abs(count) < 1024 or unit == _UNITS[-1]:
            break
    return f"{count:.1f} {unit}"
