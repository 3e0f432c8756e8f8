"""The ports: what the core needs from the world, as protocols the adapters implement."""

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from devon_core.cached import CachedFile, CachedRepo, CachedSnapshot, HashKind
from devon_core.models import LocalModel, RemoteFile, RemoteModel
from devon_core.results import (
    ScanResult,
    SearchFilters,
    StagingArea,
    StorageSpace,
    StorageStatus,
)

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes done, bytes total) as a download proceeds."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class ModelSource(Protocol):
    """A place models come from (Hugging Face, or a third-party plugin)."""

    @property
    def name(self) -> str: ...

    def search(self, query: str | None, filters: SearchFilters, limit: int) -> list[RemoteModel]:
        """Up to `limit` models matching `query` that pass `filters.matches`, fully described
        (sizes and file counts of the current revision), most downloaded first."""
        ...

    def info(self, model_id: str) -> RemoteModel:
        """The model's description with `revision` and `files` set.

        Raises NotFound, Forbidden or SourceUnavailable."""
        ...

    def download(
        self,
        model: RemoteModel,
        files: Sequence[RemoteFile],
        dest: str,
        progress: ProgressCallback | None = None,
    ) -> list[str]:
        """Fetch `files` of `model` at `model.revision` into the directory `dest`, reusing what
        an interrupted attempt left there, and return their relative paths.

        Raises DownloadFailed (dest keeps what arrived, for a resume), NotFound, Forbidden,
        or SourceUnavailable."""
        ...


class ModelStore(Protocol):
    """The vault: complete models and their index."""

    @property
    def root(self) -> str:
        """The absolute storage path."""
        ...

    def get(self, source: str, model_id: str) -> LocalModel | None: ...

    def list(self, source: str | None = None) -> list[LocalModel]:
        """Every complete model (of one source if given), sorted by (source, model_id)."""
        ...

    def status(self) -> StorageStatus: ...

    def space(self) -> StorageSpace: ...

    def lock(self, source: str, model_id: str) -> AbstractContextManager[None]:
        """Exclusive, cross-process, per-model lock held around a download or removal."""
        ...

    def stage(self, source: str, model_id: str) -> StagingArea:
        """The staging directory for a download of this model, created if needed. Kept
        across failures so that a later attempt resumes."""
        ...

    def commit(
        self,
        staging: StagingArea,
        files: Sequence[str],
        downloaded_at: datetime,
        metadata: dict[str, Any],
    ) -> LocalModel:
        """Move exactly `files` from staging into place (replacing an older copy only now)
        and record the model, atomically."""
        ...

    def remove(self, source: str, model_id: str) -> LocalModel | None:
        """Delete the model's files and index entry; None if it was not there."""
        ...

    def mark_used(self, source: str, model_id: str, when: datetime) -> LocalModel | None: ...

    def grouped(self) -> AbstractContextManager[None]:
        """Several changes in a row (a clean): what the store derives from its index (the
        manifest) may be brought up to date once, when the group ends, instead of after each."""
        ...

    def scan(self, known_sources: Collection[str], reconcile: bool = False) -> ScanResult:
        """Register the model folders found in the vault that it does not list yet (a folder
        under `<known source>/` as that source, any other under the `local` source), with
        metadata inferred from their files; with `reconcile`, also drop the models whose
        folder is gone."""
        ...


class ModelCache(Protocol):
    """Another tool's cache of models on this machine (the Hugging Face cache), which the
    vault can adopt from without downloading anything."""

    @property
    def location(self) -> str:
        """The cache's directory."""
        ...

    def repos(self) -> list[CachedRepo]:
        """Every repo folder of the cache. Raises NotFound when there is no cache there."""
        ...

    def digest(
        self, repo: CachedRepo, snapshot: CachedSnapshot, file: CachedFile, kind: HashKind
    ) -> str:
        """The hex hash of the file's content, computed the `kind` way."""
        ...

    def describe(self, repo: CachedRepo, snapshot: CachedSnapshot) -> dict[str, Any]:
        """What the snapshot's own files say about the model (`format`, `architecture`,
        `parameter_count`, `quantization`, `license`), for when no source can."""
        ...

    def place(self, repo: CachedRepo, snapshot: CachedSnapshot, dest: str) -> None:
        """Put the snapshot's files under the directory `dest` without touching the cache:
        hard links, or copies where links cannot be made. Raises a DevonError on failure."""
        ...

    def release(self, repo: CachedRepo, snapshot: CachedSnapshot) -> None:
        """Delete the snapshot from the cache (with the blobs and refs only it used)."""
        ...
