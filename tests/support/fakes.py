"""In-memory fakes of the three ports, for tests of the core and the driving adapters.

`FakeSource` "writes" downloaded files into a `FakeDisk` that `MemoryStore` reads back at
commit, the way the real source writes into the store's staging directory.
"""

import builtins
import json
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from devon_core import (
    DownloadCancelled,
    DownloadFailed,
    InvalidInput,
    LocalModel,
    NotFound,
    RemoteFile,
    RemoteModel,
    RemovalFailed,
    ScanResult,
    ScanSkip,
    SearchFilters,
    SourceUsage,
    StagingArea,
    StorageSpace,
    StorageStatus,
)
from devon_core.cached import CachedFile, CachedRepo, CachedSnapshot, HashKind
from devon_core.commit_metadata import CommitMetadata
from devon_core.identifiers import validate_model_id
from devon_core.models import author_of, model_name_of
from devon_core.ports import ProgressCallback, StopSignal
from devon_core.references import ModelReference, parse_reference
from devon_core.results import StagedDownload
from devon_core.serialization import unstructure

FakeDisk = dict[str, dict[str, int]]
"""Folder path (a staging area, a model's folder) -> {relative file path: size in bytes}."""

T0 = datetime(2025, 2, 12, 14, 30, tzinfo=UTC)

WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pt", ".pth", ".onnx", ".ckpt", ".h5")
"""What makes a folder on the fake disk a model when scanned (the vault's rule, in short)."""


class SettableClock:
    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def remote_model(
    model_id: str = "acme/widget-7b",
    *,
    source: str = "huggingface",
    files: Sequence[tuple[str, int]] = (("config.json", 100), ("model.safetensors", 5000)),
    **fields: Any,
) -> RemoteModel:
    """A remote model builder: sensible defaults, override any field."""
    remote_files = tuple(RemoteFile(path, size, None) for path, size in files)
    defaults: dict[str, Any] = {
        "source": source,
        "model_id": model_id,
        "model_name": model_name_of(model_id),
        "author": author_of(model_id),
        "total_size_bytes": sum(f.size_bytes for f in remote_files),
        "file_count": len(remote_files),
        "revision": "0" * 40,
        "files": remote_files,
    }
    return RemoteModel(**(defaults | fields))


def hub_like_reference(text: str) -> ModelReference:
    """The core's `owner/name[:QUANT]` with the Hugging Face source's id rule, which the fake
    stands in for: each part of letters, digits, `-`, `_`, `.`, no `..` or `--`, not ending
    in `-` or `.`. (Hub URLs are the real source's: pass `references=parse_hub_reference`.)
    The unit tests may not import the adapter itself: they run with the core's dependencies
    only."""
    reference = parse_reference(text)
    for part in reference.model_id.split("/"):
        if any(c in part for c in ":+@") or ".." in part or "--" in part or part[-1] in "-.":
            raise InvalidInput(f"Invalid model id {reference.model_id!r}: not a Hub id")
    return reference


class FakeSource:
    """A source holding a fixed catalogue. Set `fail_download` to make the next download
    deliver only part of the files and raise, like a cut connection."""

    def __init__(
        self,
        models: Sequence[RemoteModel] = (),
        disk: FakeDisk | None = None,
        name: str = "huggingface",
        references: Callable[[str], ModelReference] | None = None,
    ) -> None:
        self._name = name
        self._references = references or hub_like_reference
        self.catalogue = {m.model_id: m for m in models}
        self.disk: FakeDisk = disk if disk is not None else {}
        self.fail_download = False
        self.info_error: Exception | None = None
        self.downloads: list[tuple[str, tuple[str, ...]]] = []

    @property
    def name(self) -> str:
        return self._name

    def parse_reference(self, text: str) -> ModelReference:
        """`hub_like_reference` unless the test gave its own (the Hugging Face source's, for its
        URLs: `references=parse_hub_reference`)."""
        return self._references(text)

    def search(self, query: str | None, filters: SearchFilters, limit: int) -> list[RemoteModel]:
        """Like the Hub: every word of `query` in the id, whatever its case."""
        words = (query or "").lower().split()
        hits = [
            m
            for m in self.catalogue.values()
            if all(word in m.model_id.lower() for word in words) and filters.matches(m)
        ]
        return sorted(hits, key=lambda m: -m.downloads)[:limit]

    def info(self, model_id: str) -> RemoteModel:
        if self.info_error is not None:
            raise self.info_error
        validate_model_id(model_id)
        try:
            return self.catalogue[model_id]
        except KeyError:
            raise NotFound(f"{model_id} is not on {self.name}") from None

    def download(
        self,
        model: RemoteModel,
        files: Sequence[RemoteFile],
        dest: str,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[str]:
        self.downloads.append((model.model_id, tuple(f.path for f in files)))
        staged = self.disk.setdefault(dest, {})
        total = sum(f.size_bytes for f in files)
        done = 0
        for index, file in enumerate(files):
            if stop is not None and stop.is_set():
                raise DownloadCancelled(f"The download of {model.model_id} was stopped")
            if self.fail_download and index == len(files) - 1:
                self.fail_download = False
                raise DownloadFailed(f"connection cut while fetching {file.path}")
            staged[file.path] = file.size_bytes
            done += file.size_bytes
            if progress:
                progress(done, total)
        return [f.path for f in files]


class MemoryStore:
    """A vault in a dict. `free_bytes`, `quota_bytes` and `quota_setting` are settable for
    storage checks. Each model's folder is in `disk` too (at its `path`), so that `scan`
    finds folders placed there by hand and sees those that are gone, as on a disk."""

    def __init__(self, disk: FakeDisk | None = None, root: str = "/vault") -> None:
        self._root = root
        self.disk: FakeDisk = disk if disk is not None else {}
        self.models: dict[tuple[str, str], LocalModel] = {}
        self.free_bytes = 10**15
        self.quota_bytes: int | None = None
        self.quota_setting: str | None = None
        self.locks_taken: list[tuple[str, str]] = []
        self.changes = 0
        self.fail_remove: set[str] = set()
        """Keys `<source>/<model_id>` whose removal fails, as a disk refusing it would."""
        self.reservations: dict[tuple[str, str], tuple[int, int]] = {}
        """Downloads in flight: (source, model_id) -> (bytes they add, bytes they replace).
        A fake's downloads write nothing to a real disk, so all of it is still to come."""
        self.files_of: dict[tuple[str, str], dict[str, int]] = {}
        """The files (and sizes) of each committed model."""
        self.unstaged: list[str] = []
        self._locks: dict[tuple[str, str], threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self.groups = 0
        self.scans: list[tuple[frozenset[str], bool]] = []
        self.scan_options: list[dict[str, bool]] = []
        self.scan_result: ScanResult | None = None
        """What `scan` answers when set; when None, it scans `disk` as the disk store does."""

    @property
    def root(self) -> str:
        return self._root

    def change_counter(self) -> int:
        return self.changes

    def add(self, model: LocalModel) -> LocalModel:
        key = (model.source, model.model_id)
        self.models[key] = model
        if key not in self.files_of:
            share = model.size_bytes // max(len(model.files), 1)
            self.files_of[key] = {path: share for path in model.files}
        self.disk.setdefault(model.path, dict(self.files_of[key]))
        self.changes += 1
        return model

    def get(self, source: str, model_id: str) -> LocalModel | None:
        return self.models.get((source, model_id))

    def list(self, source: str | None = None) -> list[LocalModel]:
        return [
            self.models[key] for key in sorted(self.models) if source is None or key[0] == source
        ]

    def list_json(self, source: str | None = None) -> tuple[int, str]:
        models = self.list(source)
        return len(models), json.dumps(unstructure(models))

    def status(self) -> StorageStatus:
        sources: dict[str, SourceUsage] = {}
        for model in self.list():
            usage = sources.get(model.source, SourceUsage(0, 0))
            sources[model.source] = SourceUsage(
                usage.count + 1, usage.size_bytes + model.size_bytes
            )
        return StorageStatus(
            model_count=len(self.models),
            total_size_bytes=sum(m.size_bytes for m in self.models.values()),
            storage_path=self.root,
            sources=sources,
            staging_bytes=self.staging_bytes(),
            partial_bytes=self.partial_bytes(),
        )

    def staging_bytes(self) -> int:
        staging = f"{self.root}/.devon/staging/"
        return sum(
            sum(files.values()) for path, files in self.disk.items() if path.startswith(staging)
        )

    def file_sizes(self, model: LocalModel, paths: Sequence[str]) -> dict[str, int]:
        held = self.files_of.get((model.source, model.model_id), {})
        return {path: held[path] for path in paths if path in held}

    def partial_bytes(self) -> int:
        return self.staging_bytes()

    def space(self) -> StorageSpace:
        used = sum(m.size_bytes for m in self.models.values())
        return StorageSpace(
            free_bytes=self.free_bytes,
            used_bytes=used,
            quota_bytes=self.quota_bytes,
            quota_setting=self.quota_setting,
        )

    @contextmanager
    def lock(self, source: str, model_id: str) -> Iterator[None]:
        """Exclusive between threads, re-entrant within one, like the disk store's."""
        with self._lock_of(source, model_id):
            self.locks_taken.append((source, model_id))
            yield

    def stage(self, source: str, model_id: str) -> StagingArea:
        self._refuse_clash(source, model_id)
        path = f"{self.root}/.devon/staging/{source}/{model_id}"
        present = dict(self.disk.get(path, {}))
        return StagingArea(source=source, model_id=model_id, path=path, present_files=present)

    @contextmanager
    def reserve(
        self,
        staging: StagingArea,
        adding_bytes: int,
        replacing_bytes: int,
        check: Callable[[StorageSpace], None],
    ) -> Iterator[None]:
        key = (staging.source, staging.model_id)
        others = [r for k, r in self.reservations.items() if k != key]
        space = self.space()
        check(
            attrs.evolve(
                space,
                free_bytes=space.free_bytes - sum(adding for adding, _ in others),
                used_bytes=space.used_bytes + sum(adding - old for adding, old in others),
            )
        )
        self.reservations[key] = (adding_bytes, replacing_bytes)
        try:
            yield
        finally:
            self.reservations.pop(key, None)

    def commit(
        self,
        staging: StagingArea,
        files: Sequence[str],
        downloaded_at: datetime,
        metadata: CommitMetadata,
        carry_over: Sequence[str] = (),
    ) -> LocalModel:
        self._refuse_clash(staging.source, staging.model_id)
        staged = self.disk.pop(staging.path, {})
        self.reservations.pop((staging.source, staging.model_id), None)
        previous = self.models.get((staging.source, staging.model_id))
        held = self.files_of.get((staging.source, staging.model_id), {})
        for path in carry_over:
            staged.setdefault(path, held[path])
        kept = sorted(files)
        self.files_of[(staging.source, staging.model_id)] = {f: staged[f] for f in kept}
        self.disk[f"{self.root}/{staging.source}/{staging.model_id}"] = {f: staged[f] for f in kept}
        model = LocalModel(
            source=staging.source,
            model_id=staging.model_id,
            path=f"{self.root}/{staging.source}/{staging.model_id}",
            size_bytes=sum(staged[f] for f in kept),
            downloaded_at=downloaded_at,
            last_used=previous.last_used if previous else None,
            files=tuple(kept),
            metadata=metadata.as_dict(),
        )
        return self.add(model)

    def unstage(self, staging: StagingArea) -> None:
        if not self.disk.get(staging.path):
            self.disk.pop(staging.path, None)
            self.unstaged.append(staging.path)

    def remove(self, source: str, model_id: str) -> LocalModel | None:
        if f"{source}/{model_id}" in self.fail_remove:
            raise RemovalFailed(f"Could not remove {source}/{model_id} (Permission denied)")
        self.files_of.pop((source, model_id), None)
        removed = self.models.pop((source, model_id), None)
        if removed is not None:
            self.disk.pop(removed.path, None)
        self.changes += removed is not None
        return removed

    def staged(self) -> "builtins.list[StagedDownload]":
        prefix = f"{self.root}/.devon/staging/"
        found = []
        for path, files in sorted(self.disk.items()):
            if path.startswith(prefix):
                source, model_id = path.removeprefix(prefix).split("/", 1)
                size = sum(files.values())
                in_use = not self._lock_free(source, model_id)
                found.append(StagedDownload(source, model_id, size, in_use, size))
        return found

    def discard_staging(self, source: str, model_id: str) -> int | None:
        lock = self._lock_of(source, model_id)
        if not lock.acquire(blocking=False):
            return None
        try:
            files = self.disk.pop(f"{self.root}/.devon/staging/{source}/{model_id}", {})
            return sum(files.values())
        finally:
            lock.release()

    def _lock_of(self, source: str, model_id: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks.setdefault((source, model_id), threading.RLock())

    def _lock_free(self, source: str, model_id: str) -> bool:
        """Whether no other thread holds the model's lock (a running download)."""
        lock = self._lock_of(source, model_id)
        if not lock.acquire(blocking=False):
            return False
        lock.release()
        return True

    def _refuse_clash(self, source: str, model_id: str) -> None:
        for other_source, other in self.models:
            if other_source == source and other != model_id and _overlap(other, model_id):
                raise InvalidInput(
                    f"{source}/{model_id} would share a directory with {source}/{other}, "
                    "already in the vault: remove that one first"
                )

    def mark_used(self, source: str, model_id: str, when: datetime) -> LocalModel | None:
        model = self.models.get((source, model_id))
        if model is None:
            return None
        return self.add(attrs.evolve(model, last_used=when))

    @contextmanager
    def grouped(self) -> Iterator[None]:
        self.groups += 1
        yield

    def scan(
        self,
        known_sources: Collection[str],
        reconcile: bool = False,
        *,
        move: bool = False,
        dry_run: bool = False,
    ) -> ScanResult:
        """What `scan_result` says if set, else a scan of `disk`: a folder under a known
        source's folder is that source's model, any other `local`'s, registered where it
        is; one with no model file is skipped. Records the call. (`move` moves nothing.)"""
        self.scans.append((frozenset(known_sources), reconcile))
        self.scan_options.append({"move": move, "dry_run": dry_run})
        if self.scan_result is not None:
            return self.scan_result
        sources = {*known_sources, *(source for source, _ in self.models), "local"}
        registered, skipped, placed = [], [], []
        for folder, files in sorted(self.disk.items()):
            relative = folder.removeprefix(f"{self.root}/")
            if relative == folder or relative.startswith(".devon/"):
                continue
            first, _, rest = relative.partition("/")
            source, model_id = (first, rest) if first in sources and rest else ("local", relative)
            if (source, model_id) in self.models:
                continue
            if not any(path.lower().endswith(WEIGHT_SUFFIXES) for path in files):
                skipped.append(ScanSkip(folder, "it holds no model file"))
                continue
            registered.append(f"{source}/{model_id}")
            placed.append((source, model_id, folder, files))
        dropped = sorted(
            f"{key[0]}/{key[1]}"
            for key, model in self.models.items()
            if reconcile and model.path not in self.disk
        )
        if not dry_run:
            for key in dropped:
                self.remove(*key.split("/", 1))
            for source, model_id, folder, files in placed:
                self.files_of[(source, model_id)] = dict(files)
                self.add(
                    LocalModel(
                        source=source,
                        model_id=model_id,
                        path=folder,
                        size_bytes=sum(files.values()),
                        downloaded_at=datetime.now(UTC),
                        last_used=None,
                        files=tuple(sorted(files)),
                        metadata={"inferred": True},
                    )
                )
        return ScanResult(
            registered=tuple(registered),
            dropped=tuple(dropped),
            skipped=tuple(skipped),
            dry_run=dry_run,
        )


def _overlap(a: str, b: str) -> bool:
    """Whether two ids' directories overlap on a case-insensitive filesystem: the same id in
    another case, or one id's folder holding the other."""
    a, b = a.casefold(), b.casefold()
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def local_model(
    model_id: str = "acme/widget-7b",
    *,
    source: str = "huggingface",
    size_bytes: int = 1000,
    downloaded_at: datetime = T0,
    last_used: datetime | None = None,
    root: str = "/vault",
) -> LocalModel:
    """A vault entry builder."""
    return LocalModel(
        source=source,
        model_id=model_id,
        path=f"{root}/{source}/{model_id}",
        size_bytes=size_bytes,
        downloaded_at=downloaded_at,
        last_used=last_used,
        files=("config.json", "model.safetensors"),
        metadata={},
    )


SHA256_A = "a" * 64
SHA1_B = "b" * 40


def cached_snapshot(
    revision: str = "1" * 40,
    files: Sequence[tuple[str, str | None, int]] = (
        ("config.json", SHA1_B, 100),
        ("model.safetensors", SHA256_A, 900),
    ),
    *,
    modified: float = 1000.0,
    broken: Sequence[str] = (),
) -> CachedSnapshot:
    """A snapshot builder: (path, blob name, size) per file; `broken` names broken links."""
    return CachedSnapshot(
        revision,
        tuple(CachedFile(p, blob, size, present=p not in broken) for p, blob, size in files),
        modified,
    )


def cached_repo(
    repo_id: str = "acme/widget-7b",
    *snapshots: CachedSnapshot,
    kind: str = "model",
    main: str | None = None,
    unfinished: int = 0,
) -> CachedRepo:
    chosen = snapshots or (cached_snapshot(),)
    refs = {"main": main} if main else {}
    folder = f"{kind}s--{repo_id.replace('/', '--')}"
    return CachedRepo(kind, repo_id, folder, chosen, refs, unfinished)


class FakeCache:
    """A Hugging Face cache in memory. Every file hashes to its blob name unless listed in
    `corrupt`; `place` "links" the files into the store's `FakeDisk`."""

    def __init__(
        self,
        repos: Sequence[CachedRepo] = (),
        disk: FakeDisk | None = None,
        location: str = "/hf/hub",
    ) -> None:
        self._location = location
        self.held = list(repos)
        self.disk: FakeDisk = disk if disk is not None else {}
        self.corrupt: set[tuple[str, str]] = set()
        self.hashed: list[tuple[str, str, HashKind]] = []
        self.released: list[tuple[str, str]] = []

    @property
    def location(self) -> str:
        return self._location

    def repos(self) -> list[CachedRepo]:
        return list(self.held)

    def digest(
        self, repo: CachedRepo, snapshot: CachedSnapshot, file: CachedFile, kind: HashKind
    ) -> str:
        self.hashed.append((repo.repo_id, file.path, kind))
        return (
            "0" * len(file.blob or "")
            if (repo.repo_id, file.path) in self.corrupt
            else (file.blob or "")
        )

    def describe(self, repo: CachedRepo, snapshot: CachedSnapshot) -> dict[str, Any]:
        return {"format": ["safetensors"], "architecture": "from-files", "parameter_count": 7.0}

    def place(self, repo: CachedRepo, snapshot: CachedSnapshot, dest: str) -> None:
        self.disk.setdefault(dest, {}).update({f.path: f.size_bytes for f in snapshot.files})

    def release(self, repo: CachedRepo, snapshot: CachedSnapshot) -> None:
        self.released.append((repo.repo_id, snapshot.revision))
        self.held = [r for r in self.held if r.repo_id != repo.repo_id]
