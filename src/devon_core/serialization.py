"""Turning core objects into plain JSON-ready data, the same way for every driving adapter.

Timestamps become ISO 8601 UTC strings with microseconds; enums their values; tuples lists.
A remote model's `revision` and `files` are internal and left out.
"""

import enum
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from devon_core.filters import ModelFormat
from devon_core.jobs import Job, JobStatus
from devon_core.models import LocalModel, RemoteModel
from devon_core.quantizations import Quantization
from devon_core.results import CleanResult, ExportFormat, ExportResult, ModelInfo


def timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with offset and microseconds: `2025-02-12T14:30:00.123456+00:00`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_timestamp(text: str) -> datetime:
    """Read a timestamp written by `timestamp` (or any ISO 8601 form); naive means UTC."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_unstructure_hook(datetime, timestamp)
    converter.register_structure_hook(datetime, lambda value, _: parse_timestamp(value))
    for enum_type in (ExportFormat, ModelFormat, JobStatus):
        converter.register_unstructure_hook(enum_type, _enum_value)
    # Computed fields such as `count` are init=False; the wire shapes include them.
    converter.register_unstructure_hook_factory(
        attrs.has,
        lambda cls: make_dict_unstructure_fn(cls, converter, _cattrs_include_init_false=True),
    )
    converter.register_unstructure_hook(
        RemoteModel,
        make_dict_unstructure_fn(
            RemoteModel, converter, revision=override(omit=True), files=override(omit=True)
        ),
    )
    converter.register_unstructure_hook(ExportResult, _export_wire)
    converter.register_unstructure_hook(CleanResult, _clean_wire)
    converter.register_unstructure_hook(ModelInfo, _info_wire)
    # Which core error a failed job ended with is for the waiting caller, not the wire.
    converter.register_unstructure_hook(
        Job, make_dict_unstructure_fn(Job, converter, error_kind=override(omit=True))
    )
    return converter


def _clean_wire(result: CleanResult) -> dict[str, Any]:
    """The spec's clean shape; `partial_models` and `partial_freed_bytes` only when a partial
    clean removed (or, dry, would remove) some staging (ADR 0173), so that an answer to a
    request that never asked for it is exactly the documented one."""
    data: dict[str, Any] = {
        "removed": result.removed,
        "freed_bytes": result.freed_bytes,
        "dry_run": result.dry_run,
        "models": list(result.models),
    }
    if result.partial_models:
        data["partial_models"] = list(result.partial_models)
        data["partial_freed_bytes"] = result.partial_freed_bytes
    if result.failed:  # only when a model could not be removed (ADR 0103)
        data["failed"] = [{"model": f.model, "detail": f.detail} for f in result.failed]
    if result.skipped_local:  # only when a `local` model was kept for not being named
        data["skipped_local"] = list(result.skipped_local)
    return data


def _info_wire(info: ModelInfo) -> dict[str, Any]:
    """The spec's info shape, `{"local", "remote"}`; the quantisations the vault's copy
    holds go in `local` as `quantizations` (additive, ADR 0237)."""
    local = converter.unstructure(info.local)
    if local is not None:
        local["quantizations"] = converter.unstructure(list(info.local_quantizations))
    return {"local": local, "remote": converter.unstructure(info.remote)}


def held_wire(model: LocalModel, quantizations: Sequence[Quantization]) -> dict[str, Any]:
    """A listed model with the GGUF quantisations its copy holds (`quantizations`, additive:
    `GET /api/v1/models?quantizations=true`, `devon list --json --quantizations`)."""
    return {
        **converter.unstructure(model),
        "quantizations": converter.unstructure(list(quantizations)),
    }


def _export_wire(result: ExportResult) -> dict[str, Any]:
    """The spec's export shape: `format`, `count`, and `content` as a list (kitt: the
    paths; json: the entries)."""
    content = list(result.paths) if result.format is ExportFormat.KITT else result.content
    return {
        "format": result.format.value,
        "count": result.count,
        "content": converter.unstructure(content),
    }


def _enum_value(value: enum.Enum) -> Any:
    return value.value


converter = _make_converter()


def unstructure(value: Any) -> Any:
    """Plain dicts, lists, strings and numbers for any core object."""
    return converter.unstructure(value)


def export_text(result: ExportResult) -> str:
    """An export as a file's text: one path a line for kitt (what KITT reads), else JSON."""
    if isinstance(result.content, str):
        return result.content
    return json.dumps(unstructure(list(result.content)), indent=2) + "\n"
