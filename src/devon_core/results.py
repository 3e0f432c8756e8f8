"""Requests and results of the use cases, shaped like the API's responses."""

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from devon_core.errors import InvalidRequest

# Defined in `filters` since ADR 0265; importable from here as before.
from devon_core.filters import FilterDeclaration as FilterDeclaration
from devon_core.filters import HintValues as HintValues
from devon_core.filters import SearchFilters as SearchFilters
from devon_core.filters import search_filter as search_filter
from devon_core.models import LocalModel, RemoteFile, RemoteModel
from devon_core.quantizations import Quantization

MIN_SEARCH_LIMIT = 1
MAX_SEARCH_LIMIT = 200
DEFAULT_SEARCH_LIMIT = 20
DEFAULT_CLEAN_DAYS = 30


def _count_of(field: str) -> Any:
    """An attrs field holding the length of the sibling field `field`, computed at init."""
    return attrs.field(
        init=False, default=attrs.Factory(lambda self: len(getattr(self, field)), takes_self=True)
    )


@attrs.frozen
class SearchResult:
    query: str | None
    source: str
    results: tuple[RemoteModel, ...]
    count: int = _count_of("results")


@attrs.frozen
class ModelList:
    """The vault's models, as listing shows them."""

    models: tuple[LocalModel, ...]
    count: int = _count_of("models")


@attrs.frozen
class DownloadResult:
    """What a download answers: where the model is and what it holds."""

    model_id: str
    source: str
    path: str
    files: tuple[str, ...]
    size_bytes: int

    @classmethod
    def of(cls, model: LocalModel) -> "DownloadResult":
        return cls(model.model_id, model.source, model.path, model.files, model.size_bytes)


@attrs.frozen
class Downloaded:
    """A download's outcome: the vault's copy, and whether this call transferred anything
    (False when the vault already held what was asked for)."""

    model: LocalModel
    transferred: bool
    fetched: tuple[str, ...] = ()
    """The files this call brought into the vault (a model already held keeps the rest)."""
    fetched_bytes: int = 0
    """Their size: what this call added, not the model's total."""


@attrs.frozen
class SourceCheck:
    """One source's answer to `Devon.diagnose`: whether a one-model search worked."""

    name: str
    ok: bool
    detail: str
    """The error when not ok; empty otherwise."""
    endpoint: str | None = None
    """Where the source answers from, when it says (a `Located` source)."""


@attrs.frozen
class Diagnosis:
    """What `devon doctor` checks: the vault (its status and the free space on its disk)
    and each loaded source."""

    status: "StorageStatus"
    free_bytes: int
    sources: tuple[SourceCheck, ...]
    index: str | None = None
    """Where the vault's index is, for a store that keeps one."""


@attrs.frozen
class ModelInfo:
    """What DEVON knows of one model: its vault entry and the source's description, if any."""

    local: LocalModel | None
    remote: RemoteModel | None
    local_quantizations: tuple[Quantization, ...] = ()
    """The GGUF quantisations the vault's copy holds, with their sizes (ADR 0237); in the
    wire form, `local.quantizations`."""


@attrs.frozen
class RemoveResult:
    deleted: bool
    model_id: str
    source: str


@attrs.frozen
class CleanRequest:
    """`all` removes everything; `unused` removes what was not touched within `days`."""

    unused: bool = False
    days: int = DEFAULT_CLEAN_DAYS
    all: bool = False
    dry_run: bool = False
    source: str | None = None
    """Only this source's models. Models of the built-in `local` source (placed by hand,
    perhaps the only copy anywhere) are cleaned only when this names it."""

    def __attrs_post_init__(self) -> None:
        if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days < 0:
            raise InvalidRequest(f"days must be a whole number >= 0, got {self.days!r}")


@attrs.frozen
class CleanFailure:
    """A model a clean could not remove (`model` is `<source>/<model_id>`), and why."""

    model: str
    detail: str


@attrs.frozen
class CleanResult:
    """`models` are `<source>/<model_id>` of the models removed; `freed_bytes` is the sum of
    their sizes. `failed` are those that could not be removed (the clean carried on)."""

    freed_bytes: int
    dry_run: bool
    models: tuple[str, ...]
    failed: tuple[CleanFailure, ...] = ()
    removed: int = _count_of("models")
    partial_models: tuple[str, ...] = ()
    """`<source>/<model_id>` of each unfinished download whose staging was (or, on a dry run,
    would be) removed by a `partial` clean."""
    partial_freed_bytes: int = 0
    skipped_local: tuple[str, ...] = ()
    """`<source>/<model_id>` of each `local` model the request would otherwise have selected,
    left alone because the request did not name the `local` source."""


@attrs.frozen
class ScanSkip:
    """A folder a scan left out, and why (no model file, half-written, a clash...)."""

    path: str
    reason: str


@attrs.frozen
class IndexCopy:
    """What copying a vault's index to another backend did (`devon copy-index`)."""

    source: str
    target: str
    model_count: int
    replaced: int
    """Rows the target held before, dropped because `replace` was asked for."""


@attrs.frozen
class ScanMove:
    """A hand-placed folder a scan moved (asked to with `move`) to where its model now lives:
    `model` is `<source>/<model_id>`, `origin` and `target` absolute paths."""

    model: str
    origin: str
    target: str


@attrs.frozen
class ScanResult:
    """What a scan did (or, with `dry_run`, would do): models registered and dropped
    (`<source>/<model_id>`), folders moved (only when asked to) and skipped. Registered
    models carry metadata inferred from their files; each is at the path `list` shows."""

    registered: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    skipped: tuple[ScanSkip, ...] = ()
    moved: tuple[ScanMove, ...] = ()
    dry_run: bool = False


class ExportFormat(enum.StrEnum):
    KITT = "kitt"
    JSON = "json"

    @classmethod
    def parse(cls, text: str) -> "ExportFormat":
        try:
            return cls(text)
        except ValueError:
            accepted = ", ".join(repr(f.value) for f in cls)
            raise InvalidRequest(f"Unknown export format {text!r}: use {accepted}") from None


@attrs.frozen
class ExportEntry:
    source: str
    model_id: str
    path: str
    size_bytes: int
    downloaded_at: datetime
    files: tuple[str, ...]


@attrs.frozen
class ExportResult:
    """An export in (source, model_id) order. For kitt, `content` is the text KITT reads
    (one model path a line) and `paths` the same paths as a tuple; for json, `content`
    holds the entries. The HTTP API and `--json` send kitt's `content` as a list of paths,
    as the spec shows (ADR 0174)."""

    format: ExportFormat
    content: str | tuple[ExportEntry, ...]
    count: int
    paths: tuple[str, ...] = ()

    @classmethod
    def kitt(cls, paths: Iterable[str]) -> "ExportResult":
        ordered = tuple(paths)
        text = "".join(f"{path}\n" for path in ordered)
        return cls(ExportFormat.KITT, text, len(ordered), ordered)

    @classmethod
    def json(cls, entries: Iterable[ExportEntry]) -> "ExportResult":
        ordered = tuple(entries)
        return cls(ExportFormat.JSON, ordered, len(ordered), tuple(e.path for e in ordered))


@attrs.frozen
class SourceUsage:
    count: int
    size_bytes: int


@attrs.frozen
class StorageStatus:
    model_count: int
    total_size_bytes: int
    storage_path: str
    sources: dict[str, SourceUsage]
    staging_bytes: int = 0
    """Bytes unfinished downloads (running or interrupted) take in staging on disk: what
    arrived and the room preallocated for the rest."""
    partial_bytes: int = 0
    """Bytes that have arrived for those downloads."""


@attrs.frozen
class StorageSpace:
    """Room for downloads: free bytes on the vault's disk, bytes used, and the quota if set."""

    free_bytes: int
    used_bytes: int
    quota_bytes: int | None = None
    quota_setting: str | None = None
    """What a person changes to raise the quota (the disk vault built from settings: its
    environment variable), named when a download is refused; None: "the quota"."""


SOURCE_STATE_DIR = ".cache"
"""Where in a staging area a source keeps its resume state (`<staging>/.cache/...`, e.g. the
Hub adapter's `.cache/devon`, huggingface_hub's `.cache/huggingface`): a store never takes
anything under it for a model file, never commits it and does not count it as staged."""


@attrs.frozen
class StagingArea:
    """Where a download in progress lives until it is committed. It may hold complete files
    of a previous, interrupted attempt (`present_files`: relative path -> size), which a
    resumed download reuses. A source keeps its own resume state under
    `<path>/SOURCE_STATE_DIR/` (the contract rule: see `SOURCE_STATE_DIR`)."""

    source: str
    model_id: str
    path: str
    present_files: dict[str, int] = attrs.field(factory=dict)
    partial_files: dict[str, int] = attrs.field(factory=dict)
    """Files still arriving: relative path -> bytes already staged, which a resume keeps."""

    @property
    def present_bytes(self) -> int:
        return sum(self.present_files.values())

    def bytes_still_needed(self, files: Iterable[RemoteFile]) -> int:
        """What fetching `files` still has to write: nothing for a file staging holds at
        exactly its size, the rest of one whose first bytes are staged, all of any other
        (leftovers longer than the file wanted now count for nothing)."""
        needed = 0
        for f in files:
            if self.present_files.get(f.path) == f.size_bytes:
                continue
            partial = self.partial_files.get(f.path, 0)
            needed += f.size_bytes - (partial if partial <= f.size_bytes else 0)
        return needed


@attrs.frozen
class StagedDownload:
    """An unfinished download's staging: what it holds, and whether a running download is
    using it now (its model's lock is taken)."""

    source: str
    model_id: str
    size_bytes: int
    in_use: bool
    arrived_bytes: int = 0
    """Bytes that have arrived (`size_bytes` also counts room preallocated for the rest)."""

    @property
    def key(self) -> str:
        return f"{self.source}/{self.model_id}"


@attrs.frozen
class ImportReport:
    """What an import of a DEVON 1.x vault did, by `<source>/<model_id>` (the key itself if
    it was unreadable)."""

    imported: tuple[str, ...] = ()
    already_present: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    """(model, reason) for each entry left out."""
