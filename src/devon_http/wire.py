"""The JSON shapes of the HTTP API, as msgspec structs, and their one conversion from the core.

Responses are built from `devon_core.serialization.unstructure`, the same data the CLI prints
with `--json`, then converted into these structs: that checks each shape and lets Litestar
describe it in the OpenAPI document. Request bodies are decoded strictly into these structs
(see `devon_http.body`); unknown fields are ignored.
"""

from typing import Annotated, Any, Literal, TypeVar

import msgspec

from devon_core.results import DEFAULT_CLEAN_DAYS, ExportFormat, ExportResult
from devon_core.serialization import unstructure

W = TypeVar("W")

Timestamp = Annotated[str, msgspec.Meta(description="ISO 8601 in UTC with offset and microseconds")]


class ErrorBody(msgspec.Struct):
    """Every error response: what was wrong and, where it helps, what to do."""

    detail: str


class Health(msgspec.Struct):
    status: Literal["ok"]
    version: str


class Quantization(msgspec.Struct):
    """One GGUF quantisation of a repo: all of its files (a sharded set is one) and size."""

    name: Annotated[str, msgspec.Meta(description="llama.cpp type, e.g. Q4_K_M")]
    size_bytes: int
    files: list[str]


class RemoteModel(msgspec.Struct):
    """A model on a source, as search and info describe it."""

    source: str
    model_id: str
    model_name: str
    author: str | None
    total_size_bytes: int
    file_count: int
    parameter_count: Annotated[float | None, msgspec.Meta(description="In billions")]
    architecture: str | None
    format: list[str]
    quantization: str | None
    tags: list[str]
    license: str | None
    downloads: int
    likes: int
    created_at: str
    updated_at: str
    web_url: str
    repo_url: str
    quantizations: Annotated[
        list[Quantization],
        msgspec.Meta(description="Each GGUF quantisation; empty for other repos (added)"),
    ]


class SearchResponse(msgspec.Struct):
    query: str | None
    source: str
    count: int
    results: list[RemoteModel]


class LocalModel(msgspec.Struct):
    """A complete model in the vault. `files` are sorted paths relative to `path`."""

    source: str
    model_id: str
    path: str
    size_bytes: int
    downloaded_at: Timestamp
    last_used: Timestamp | None
    files: list[str]
    metadata: dict[str, Any]
    quantizations: Annotated[
        list[Quantization] | msgspec.UnsetType,
        msgspec.Meta(
            description="The GGUF quantisations this copy holds, with their sizes: in a "
            "model's info, and in the list when asked with quantizations=true (added)"
        ),
    ] = msgspec.UNSET


class ModelList(msgspec.Struct):
    count: int
    models: list[LocalModel]


class ModelInfo(msgspec.Struct):
    """The vault's entry and the source's description; either may be null, not both."""

    local: LocalModel | None
    remote: RemoteModel | None


class Deleted(msgspec.Struct):
    deleted: bool
    model_id: str
    source: str


class DownloadRequest(msgspec.Struct, kw_only=True):
    model_id: Annotated[str, msgspec.Meta(description="Model identifier, e.g. Qwen/Qwen2.5-7B")]
    source: Annotated[
        str | None, msgspec.Meta(description="Source plugin (default: the server's)")
    ] = None
    force: Annotated[bool, msgspec.Meta(description="Re-download even if present")] = False
    include_patterns: Annotated[
        list[str] | None, msgspec.Meta(description="Glob patterns of files to fetch")
    ] = None
    wait: Annotated[
        bool,
        msgspec.Meta(
            description="true (default): answer when the model is in the vault (200, the "
            "documented answer); false: answer at once with the download job (202)"
        ),
    ] = True


class Downloaded(msgspec.Struct):
    model_id: str
    source: str
    path: str
    files: list[str]
    size_bytes: int


JobStatus = Literal["queued", "downloading", "completed", "failed", "cancelled"]


class Job(msgspec.Struct):
    """A download job. `result` is the download's answer once it has completed."""

    id: str
    source: str
    model_id: str
    status: JobStatus
    include_patterns: list[str] | None
    force: bool
    bytes_done: Annotated[int, msgspec.Meta(description="Bytes in staging, resumed ones too")]
    bytes_total: int | None
    files_done: int
    files_total: int | None
    bytes_per_second: Annotated[
        float | None, msgspec.Meta(description="Over the last few seconds, while downloading")
    ]
    error: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    completed_at: Timestamp | None
    result: Downloaded | None


class JobList(msgspec.Struct):
    """Download jobs, newest first: one page. `next` is the `cursor` of the next page, null
    on the last."""

    count: int
    jobs: list[Job]
    next: str | None = None


class SourceUsage(msgspec.Struct):
    count: int
    size_bytes: int


class Status(msgspec.Struct):
    model_count: int
    total_size_bytes: int
    storage_path: str
    sources: dict[str, SourceUsage]
    staging_bytes: Annotated[
        int,
        msgspec.Meta(
            description="Bytes unfinished downloads take in staging on disk, room preallocated "
            "for what has not arrived included (added)"
        ),
    ]
    partial_bytes: Annotated[
        int, msgspec.Meta(description="Bytes that have arrived for unfinished downloads (added)")
    ]


class SourceEntry(msgspec.Struct):
    name: str
    web_url_template: Annotated[
        str | None,
        msgspec.Meta(
            description="A model's web page on this source, {model_id} standing for its id "
            "(the configured endpoint's); null when its models have none"
        ),
    ]


class SourceList(msgspec.Struct):
    """The source plugins (an extension of the documented API, for the web page)."""

    sources: list[SourceEntry]


class Space(msgspec.Struct):
    """Room for downloads (an extension of the documented API, for the web page)."""

    free_bytes: Annotated[int, msgspec.Meta(description="Free bytes on the vault's disk")]
    used_bytes: Annotated[int, msgspec.Meta(description="Bytes the vault's models take")]
    quota_bytes: Annotated[
        int | None, msgspec.Meta(description="DEVON_MAX_STORAGE, or null when unset")
    ]


class CleanRequest(msgspec.Struct, kw_only=True, frozen=True):
    unused: Annotated[bool, msgspec.Meta(description="Remove models not used within days")] = False
    days: Annotated[int, msgspec.Meta(ge=0, description="Unused threshold in days")] = (
        DEFAULT_CLEAN_DAYS
    )
    all: Annotated[bool, msgspec.Meta(description="Remove every model")] = False
    dry_run: Annotated[bool, msgspec.Meta(description="Only report what would go")] = False
    partial: Annotated[
        bool,
        msgspec.Meta(description="Also remove unfinished downloads' staging, unless running"),
    ] = False
    source: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^[a-z0-9_-]{1,64}$",
                description="Only this source's models (added); `local` models, placed in "
                "the vault by hand, are removed only when this names `local`",
            ),
        ]
        | None
    ) = None


class CleanFailure(msgspec.Struct):
    model: Annotated[str, msgspec.Meta(description="<source>/<model_id>")]
    detail: Annotated[str, msgspec.Meta(description="Why it could not be removed")]


class Cleaned(msgspec.Struct, omit_defaults=True):
    removed: int
    freed_bytes: int
    dry_run: bool
    models: Annotated[list[str], msgspec.Meta(description="<source>/<model_id> of each removed")]
    partial_models: Annotated[
        list[str],
        msgspec.Meta(
            description="<source>/<model_id> of each staging removed by a partial clean "
            "(added; only present when there is one)"
        ),
    ] = msgspec.field(default_factory=list)
    partial_freed_bytes: Annotated[
        int, msgspec.Meta(description="Bytes of that staging (added; present with it)")
    ] = 0
    failed: Annotated[
        list[CleanFailure],
        msgspec.Meta(
            description="Models that could not be removed (the clean carried on past them); "
            "left out when there are none"
        ),
    ] = msgspec.field(default_factory=list)
    skipped_local: Annotated[
        list[str],
        msgspec.Meta(
            description="<source>/<model_id> of each `local` model the clean would otherwise "
            "have removed, kept because `source` did not name `local` (added; left out when "
            "there are none)"
        ),
    ] = msgspec.field(default_factory=list)


class ScanRequest(msgspec.Struct, kw_only=True, frozen=True):
    reconcile: Annotated[
        bool, msgspec.Meta(description="Also drop the models whose folder is gone")
    ] = False
    move: Annotated[
        bool,
        msgspec.Meta(
            description="Move folders outside a source's folder to local/<name> before "
            "registering them (added; by default they are registered where they are)"
        ),
    ] = False
    dry_run: Annotated[
        bool, msgspec.Meta(description="Only report what the scan would do (added)")
    ] = False


class ScanSkip(msgspec.Struct):
    path: Annotated[str, msgspec.Meta(description="The folder left out")]
    reason: str


class ScanMove(msgspec.Struct):
    model: Annotated[str, msgspec.Meta(description="<source>/<model_id>")]
    origin: Annotated[str, msgspec.Meta(description="Where the folder was")]
    target: Annotated[str, msgspec.Meta(description="Where it is now (the model's path)")]


class Scanned(msgspec.Struct):
    registered: Annotated[list[str], msgspec.Meta(description="<source>/<model_id> of each")]
    dropped: Annotated[list[str], msgspec.Meta(description="<source>/<model_id> of each")]
    skipped: list[ScanSkip]
    moved: Annotated[
        list[ScanMove],
        msgspec.Meta(description="Folders moved, asked for with `move` (added)"),
    ] = msgspec.field(default_factory=list)
    dry_run: Annotated[
        bool, msgspec.Meta(description="Whether this only says what a scan would do (added)")
    ] = False


class ExportRequest(msgspec.Struct, kw_only=True, frozen=True):
    format: ExportFormat = ExportFormat.KITT
    gguf_files: Annotated[
        bool,
        msgspec.Meta(
            description="kitt only: one line per GGUF quantisation a model holds (the file a "
            "runtime opens, the first shard of a sharded one) instead of its folder (added)"
        ),
    ] = False


class ExportEntry(msgspec.Struct):
    source: str
    model_id: str
    path: str
    size_bytes: int
    downloaded_at: Timestamp
    files: list[str]


class KittExport(msgspec.Struct, tag_field="format", tag="kitt"):
    """The model directories, one per entry: what KITT reads."""

    count: int
    content: list[str]


class JsonExport(msgspec.Struct, tag_field="format", tag="json"):
    count: int
    content: list[ExportEntry]


Export = KittExport | JsonExport


class AdoptRequest(msgspec.Struct, kw_only=True, frozen=True):
    """The cache adopted from is the server's setting (DEVON_HF_CACHE), never the request's."""

    model_ids: Annotated[
        list[str] | None,
        msgspec.Meta(description="Only these models (default: every model repo of the cache)"),
    ] = None
    dry_run: Annotated[bool, msgspec.Meta(description="Only report what would be adopted")] = False


class AdoptedModel(msgspec.Struct):
    model_id: str
    source: str
    revision: Annotated[str, msgspec.Meta(description="The cached snapshot's commit")]
    size_bytes: int
    files: list[str]
    path: Annotated[str | None, msgspec.Meta(description="In the vault; null on a dry run")]
    metadata_from: Annotated[
        str | None,
        msgspec.Meta(description="The source's name, or 'cache' when read from the files"),
    ]


class SkippedRepo(msgspec.Struct):
    repo: Annotated[str, msgspec.Meta(description="Repo id, or the cache folder's name")]
    kind: Annotated[str, msgspec.Meta(description="model, dataset or space")]
    reason: Literal[
        "not_a_model",
        "invalid_id",
        "not_in_cache",
        "incomplete_snapshot",
        "hash_mismatch",
        "unverifiable",
        "failed",
    ]
    detail: str


class AdoptReport(msgspec.Struct):
    cache: str
    dry_run: bool
    adopted: list[AdoptedModel]
    already_present: Annotated[list[str], msgspec.Meta(description="Model ids left as they were")]
    skipped: list[SkippedRepo]
    adopted_bytes: int


def to_wire(result: object, wire_type: type[W]) -> W:
    """The wire form of a core result: its `unstructure`d data, checked against `wire_type`."""
    return msgspec.convert(unstructure(result), type=wire_type)


def export_to_wire(result: ExportResult) -> Export:
    """`KittExport` or `JsonExport`, chosen by the result's `format`."""
    export: Export = msgspec.convert(unstructure(result), type=Export)
    return export
