"""The ports: what the core needs from the world, as protocols the adapters implement."""

import builtins
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, BinaryIO, Protocol, runtime_checkable

import attrs

from devon_core.cached import CachedFile, CachedRepo, CachedSnapshot, HashKind
from devon_core.commit_metadata import CommitMetadata
from devon_core.jobs import Job, JobProgress, JobRequest, JobStatus
from devon_core.models import LocalModel, RemoteFile, RemoteModel
from devon_core.results import (
    DownloadResult,
    IndexCopy,
    ScanResult,
    SearchFilters,
    StagedDownload,
    StagingArea,
    StorageSpace,
    StorageStatus,
)

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes done, bytes total) as a download proceeds. A callback that also has a
`retrying(notice: RetryNotice)` method (see `RetryListener`) is told of each retry."""


@attrs.frozen
class RetryNotice:
    """A transfer failed and will be tried again: which file, why, the attempt coming next
    (of at most `attempts`), and how long the source waits before it."""

    path: str
    problem: str
    attempt: int
    attempts: int
    wait_seconds: float


@runtime_checkable
class RetryListener(Protocol):
    def retrying(self, notice: RetryNotice) -> None: ...


"""Called with (bytes done, bytes total) as a download proceeds. It may raise (a
`DevonError`) to stop the download: the source stops its transfers, keeps what arrived in
staging, and lets the error propagate."""


@runtime_checkable
class FileProgressCallback(Protocol):
    """A `ProgressCallback` that also wants file counts. A source that can tell calls
    `files(done, total)` as files complete (every callback is still called with bytes)."""

    def __call__(self, done: int, total: int) -> None: ...

    def files(self, done: int, total: int) -> None: ...


@runtime_checkable
class StopSignal(Protocol):
    """Tells a source's download to stop (a cancelled job, a runner shutting down); a
    `threading.Event` is one. Once `is_set()`, the source closes every connection of that
    download within a second, stalled ones included (it may `wait` on the signal in a thread
    of its own rather than poll), keeps what arrived in staging for a resume, and raises
    `DownloadCancelled` (ADR 0226)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool:
        """Block until set (True) or `timeout` seconds passed (False)."""
        ...


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
        stop: StopSignal | None = None,
    ) -> list[str]:
        """Fetch `files` of `model` at `model.revision` into the directory `dest`, reusing what
        an interrupted attempt left there, and return their relative paths. Once `stop` is
        set, every connection of this download is closed within a second (stalled ones
        included) and it raises DownloadCancelled (see `StopSignal`).

        Raises DownloadFailed (dest keeps what arrived, for a resume), DownloadCancelled,
        NotFound, Forbidden, or SourceUnavailable."""
        ...


@runtime_checkable
class Located(Protocol):
    """A source that says where it answers from (shown by `devon doctor`)."""

    @property
    def endpoint(self) -> str: ...


@runtime_checkable
class ModelPages(Protocol):
    """A source whose models have pages on the web (the Hub's model pages)."""

    @property
    def web_url_template(self) -> str:
        """A model's page, `{model_id}` standing for its id: what a page links to."""
        ...


@runtime_checkable
class SourcedCache(Protocol):
    """A cache that says which source its models belong to (adopted under that source)."""

    @property
    def source_name(self) -> str: ...


@runtime_checkable
class FileSizes(Protocol):
    """A store that can read the sizes of a model's files (the disk store: from disk)."""

    def file_sizes(self, model: LocalModel, paths: Sequence[str]) -> dict[str, int]:
        """Each of `paths` (files of `model`) with its size in bytes; a file that cannot be
        read is left out."""
        ...


@runtime_checkable
class ListingWriter(Protocol):
    """A store that can write its whole listing's JSON text straight to a byte stream (from
    a kept copy, say) faster than building the text."""

    def write_list_json(self, out: BinaryIO, head: bytes = b"") -> int:
        """Write `head`, then `list_json()`'s text as UTF-8, to `out`; return the model
        count. Nothing reaches `out` when the listing cannot be read."""
        ...


@runtime_checkable
class ObservableStore(Protocol):
    """A store that tells who asks, after each commit and removal, which model changed
    (`source`, `model_id`), in whichever process made the change (ADR 0221)."""

    def observe(self, changed: Callable[[str, str], None]) -> None: ...


@runtime_checkable
class IndexedStore(Protocol):
    """A store whose index can be derived again from the files it holds, and copied to
    another place that can hold it."""

    def rebuild_index(self) -> int:
        """Re-derive the index from disk; the number of models it then lists."""
        ...

    def copy_index(self, target: str, *, replace: bool = False) -> IndexCopy:
        """Copy every model row of the index to `target` (the store says which targets it
        takes; InvalidInput for another). A target that lists models is refused unless
        `replace`, which drops them."""
        ...

    def describe_index(self) -> str:
        """Where the index is, for people (a file, or a database and schema)."""
        ...


class ModelStore(Protocol):
    """The vault: complete models and their index."""

    @property
    def root(self) -> str:
        """The absolute storage path."""
        ...

    def get(self, source: str, model_id: str) -> LocalModel | None: ...

    def change_counter(self) -> int:
        """A number that changes, for every process using the vault, with each change to what
        `get`, `list` and `status` return (commit, remove, `mark_used`). Equal readings mean
        nothing changed in between; a change of number does not promise a change of data.
        Cheap enough to read on every request."""
        ...

    def list(self, source: str | None = None) -> list[LocalModel]:
        """Every complete model (of one source if given), sorted by (source, model_id)."""
        ...

    def list_json(self, source: str | None = None) -> tuple[int, str]:
        """How many models `list(source)` returns, and the JSON text `json.dumps` gives for
        their `unstructure`d list: lets a store that keeps them as JSON write a large listing
        without building an object per model (`devon list --json`)."""
        ...

    def status(self) -> StorageStatus: ...

    def staging_bytes(self) -> int:
        """Bytes unfinished downloads hold in staging (`status().staging_bytes`): they move
        while a download runs, which `change_counter` does not count. Cheap enough to read on
        every request."""
        ...

    def partial_bytes(self) -> int:
        """Bytes that have arrived for unfinished downloads (`status().partial_bytes`): at
        most `staging_bytes`, which also counts room reserved in preallocated files."""
        ...

    def space(self) -> StorageSpace: ...

    def lock(self, source: str, model_id: str) -> AbstractContextManager[None]:
        """Exclusive, cross-process, per-model lock held around a download or removal."""
        ...

    def stage(self, source: str, model_id: str) -> StagingArea:
        """The staging directory for a download of this model, created if needed. Kept
        across failures so that a later attempt resumes."""
        ...

    def reserve(
        self,
        staging: StagingArea,
        adding_bytes: int,
        replacing_bytes: int,
        check: Callable[[StorageSpace], None],
    ) -> AbstractContextManager[None]:
        """Hold room for the download into `staging` until the context exits (or the model
        is committed), vault-wide and across processes.

        `check` is called, atomically with every other reservation, with the space the other
        downloads in flight leave: free disk less what they still have to write, used bytes
        plus what they will add. Raising from it refuses the reservation. `adding_bytes` is
        the size the model will have; `replacing_bytes` that of the copy it replaces."""
        ...

    def commit(
        self,
        staging: StagingArea,
        files: Sequence[str],
        downloaded_at: datetime,
        metadata: CommitMetadata,
        carry_over: Sequence[str] = (),
    ) -> LocalModel:
        """Move exactly `files` from staging into place (replacing an older copy only now)
        and record the model, with `metadata.as_dict()` as its metadata, atomically.
        `carry_over` names files of the copy in the vault that the new copy keeps without
        their being downloaded again (they need not be in staging); the model's `last_used`
        is kept."""
        ...

    def unstage(self, staging: StagingArea) -> None:
        """Delete the staging directory if it holds nothing worth resuming (an attempt that
        failed or was refused before any byte arrived)."""
        ...

    def remove(self, source: str, model_id: str) -> LocalModel | None:
        """Delete the model's files and index entry; None if it was not there."""
        ...

    def mark_used(self, source: str, model_id: str, when: datetime) -> LocalModel | None: ...

    def staged(self) -> "builtins.list[StagedDownload]":
        """Every unfinished download's staging, sorted by (source, model_id)."""
        ...

    def discard_staging(self, source: str, model_id: str) -> int | None:
        """Delete the model's staging under its lock, taken without waiting; the bytes freed,
        or None when a running download holds the lock (its staging is left alone)."""
        ...

    def grouped(self) -> AbstractContextManager[None]:
        """Several changes in a row (a clean): what the store derives from its index (the
        manifest) may be brought up to date once, when the group ends, instead of after each."""
        ...

    def scan(
        self,
        known_sources: Collection[str],
        reconcile: bool = False,
        *,
        move: bool = False,
        dry_run: bool = False,
    ) -> ScanResult:
        """Register the model folders found in the vault that it does not list yet, where
        they are (a folder under `<known source>/` as that source, any other under the
        `local` source), with metadata inferred from their files; with `reconcile`, also
        drop the models whose folder is gone. With `move`, a folder outside a source's
        folder is first moved to `<root>/local/<name>`. Never touches anything that resolves
        outside the vault. With `dry_run`, only reports what it would do."""
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


class JobStore(Protocol):
    """Where download jobs are recorded, shared by every process on the vault. Each method
    is atomic: two processes never claim the same job, nor create two jobs a request should
    have joined."""

    def submit(self, request: JobRequest, new_id: str, now: datetime) -> Job:
        """The job `request` belongs to, decided by `jobs.plan_submission` against the
        model's active jobs: joined, widened, or a new queued job with id `new_id`
        (TooManyJobs when the store holds as many queued jobs as it accepts)."""
        ...

    def add(self, job: Job) -> Job:
        """Record `job` as it is (a job that finished at once: the model was present)."""
        ...

    def get(self, job_id: str) -> Job | None: ...

    def list(
        self, status: JobStatus | None = None, *, limit: int | None = None, after: str | None = None
    ) -> list[Job]:
        """The recorded jobs (of one status if given), newest first: at most `limit`, and
        only those older than job `after` when given (NotFound if there is no such
        job)."""
        ...

    def claim(self, owner: str, limit: int, now: datetime) -> Job | None:
        """If fewer than `limit` jobs are downloading, make the oldest queued job whose model
        has none downloading `downloading`, owned by `owner`, and return it."""
        ...

    def record_progress(
        self, job_id: str, owner: str, progress: JobProgress, now: datetime
    ) -> bool:
        """Record how far the job is; False when it is no longer downloading under `owner`
        (cancelled meanwhile): the caller stops."""
        ...

    def heartbeat(self, owner: str, job_ids: Sequence[str], now: datetime) -> "builtins.list[str]":
        """Mark `owner` alive on its jobs; return those of `job_ids` no longer downloading
        under it (cancelled, or taken over)."""
        ...

    def begin_commit(self, job_id: str, owner: str) -> bool:
        """From now on the job cannot be cancelled: its files are going into the vault.
        False when it was cancelled (or taken over) first."""
        ...

    def finish(
        self,
        job_id: str,
        owner: str,
        status: JobStatus,
        now: datetime,
        *,
        result: DownloadResult | None = None,
        error: str | None = None,
        error_kind: str | None = None,
    ) -> Job | None:
        """End the job in `status` if it is still downloading under `owner`; return it."""
        ...

    def release(self, job_id: str, owner: str) -> None:
        """Put a job this owner runs back in the queue (the process is shutting down)."""
        ...

    def cancel(self, job_id: str, now: datetime) -> Job:
        """Cancel a queued or downloading job at once. NotFound for an unknown id, Conflict
        for a finished job or one being committed."""
        ...

    def requeue_orphans(
        self, is_gone: Callable[[str, datetime | None], bool]
    ) -> "builtins.list[str]":
        """Put back in the queue the downloading jobs whose owner `is_gone(owner,
        heartbeat_at)`; return their ids."""
        ...

    def prune(self, now: datetime) -> int:
        """Forget finished jobs beyond the newest `HISTORY_KEEP` that are older than
        `HISTORY_DAYS`; return how many."""
        ...


class JobRunner(Protocol):
    """Runs queued jobs in the background (the adapters' runner: threads in this process)."""

    def wake(self) -> None:
        """Look for queued jobs now (starting the runner in this process if needed)."""
        ...

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once it has finished. TimeoutError after `timeout` seconds."""
        ...

    def start(self) -> None:
        """Start running jobs, resuming those a process that is gone left behind (what a
        server does as it starts)."""
        ...

    def close(self, timeout: float = 10.0) -> None:
        """Stop running jobs: running ones go back to the queue, waited for up to `timeout`
        seconds (for the next process on the vault, or this runner started again)."""
        ...
