"""Adopting models already in a Hugging Face cache: what the cache holds, which snapshot is
taken, how it is checked, and the report. Pure: the cache is read by a `ModelCache` adapter.

The rules (docs/vault.md, "Adopting the Hugging Face cache"):
- Only model repos are adopted; datasets and Spaces are reported as skipped, as are repos
  whose name is not a model id DEVON accepts.
- The snapshot taken is the one `refs/main` names when it is complete, else the newest
  complete one. A snapshot is complete when it holds at least one file and every file
  resolves to a blob; an unfinished download (`.incomplete` blob) in the repo counts against
  the snapshot being downloaded most recently (the one `refs/main` names, else the newest).
- Every file is checked against its blob's name: a 64-hex name is the sha256 of the content
  (LFS files), a 40-hex name the git blob sha1 (other files). Any mismatch skips the repo.
- A model already in the vault is left alone, so running it twice adopts nothing twice.
"""

import enum
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import attrs

from devon_core.cached import CachedFile, CachedRepo, CachedSnapshot, HashKind
from devon_core.commit_metadata import CommitMetadata, DeclaredFile, ModelDescription
from devon_core.errors import DevonError, SourceUnavailable
from devon_core.identifiers import validate_model_id
from devon_core.models import LocalModel, RemoteModel
from devon_core.ports import Clock, ModelCache, ModelSource, ModelStore
from devon_core.results import StagingArea
from devon_core.rules import check_room, quantization_of

MODEL = "model"
"""The repo kind that is adopted; others (`dataset`, `space`) are skipped."""

METADATA_FROM_CACHE = "cache"
"""`metadata_from` of a model described from its cached files (the source was unreachable
or did not know it)."""


class SkipReason(enum.StrEnum):
    NOT_A_MODEL = "not_a_model"
    INVALID_ID = "invalid_id"
    NOT_IN_CACHE = "not_in_cache"
    INCOMPLETE = "incomplete_snapshot"
    HASH_MISMATCH = "hash_mismatch"
    UNVERIFIABLE = "unverifiable"
    FAILED = "failed"


@attrs.frozen
class AdoptedModel:
    """A model taken into the vault (on a dry run: one that would be; `path` is then None)."""

    model_id: str
    source: str
    revision: str
    size_bytes: int
    files: tuple[str, ...]
    path: str | None = None
    metadata_from: str | None = None
    """The source's name, or `cache` when read from the cached files; None on a dry run."""


@attrs.frozen
class SkippedRepo:
    repo: str
    """The repo id, or the cache folder's name when it holds no valid id."""
    kind: str
    reason: SkipReason
    detail: str


@attrs.frozen
class AdoptReport:
    cache: str
    dry_run: bool
    adopted: tuple[AdoptedModel, ...] = ()
    already_present: tuple[str, ...] = ()
    """Model ids already in the vault, left as they were."""
    skipped: tuple[SkippedRepo, ...] = ()
    adopted_bytes: int = attrs.field(
        init=False, default=attrs.Factory(lambda s: sum(m.size_bytes for m in s.adopted), True)
    )


_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHA1 = re.compile(r"[0-9a-f]{40}")


def hash_kind(blob: str) -> HashKind | None:
    """What a blob's name is the hash of: sha256 (LFS files), git blob sha1 (others)."""
    if _SHA256.fullmatch(blob):
        return HashKind.SHA256
    if _SHA1.fullmatch(blob):
        return HashKind.GIT_SHA1
    return None


Choice = CachedSnapshot | SkippedRepo


def choose_snapshot(repo: CachedRepo) -> Choice:
    """The snapshot to adopt, or why there is none."""
    newest_first = sorted(repo.snapshots, key=lambda s: (-s.modified, s.revision))
    main = next((s for s in repo.snapshots if s.revision == repo.refs.get("main")), None)
    current = main or (newest_first[0] if newest_first else None)
    problems: list[str] = []
    for snapshot in ([main] if main else []) + [s for s in newest_first if s is not main]:
        problem = _incompleteness(snapshot, repo.unfinished if snapshot is current else 0)
        if problem is None:
            return snapshot
        problems.append(f"{snapshot.revision[:12]}: {problem}")
    if not repo.snapshots:
        problems.append("no snapshot")
    return _skip(repo, SkipReason.INCOMPLETE, "; ".join(problems))


def _incompleteness(snapshot: CachedSnapshot, unfinished: int) -> str | None:
    if not snapshot.files:
        return "no files"
    broken = [f.path for f in snapshot.files if not f.present]
    if broken:
        return f"missing blob (broken link) for {', '.join(broken)}"
    if unfinished:
        return f"{unfinished} unfinished download(s) in the cache"
    return None


Digest = Callable[[CachedFile, HashKind], str]
"""Hashes a cached file's content the given way."""


def check_snapshot(
    repo: CachedRepo, snapshot: CachedSnapshot, digest: Digest
) -> SkippedRepo | None:
    """Why the snapshot's files do not match their blob names, or None when all do."""
    unlinked = [f.path for f in snapshot.files if f.blob is None or hash_kind(f.blob) is None]
    if unlinked:
        return _skip(
            repo,
            SkipReason.UNVERIFIABLE,
            f"not linked to a hash-named blob, so cannot be verified: {', '.join(unlinked)}",
        )
    bad = [f.path for f in snapshot.files if f.blob and digest(f, _kind(f.blob)) != f.blob]
    if bad:
        return _skip(
            repo, SkipReason.HASH_MISMATCH, f"content differs from its blob name: {', '.join(bad)}"
        )
    return None


def declared_by_blobs(snapshot: CachedSnapshot) -> dict[str, DeclaredFile]:
    """Each checked file's identity as its blob name says it: a sha256 names an LFS file,
    a git blob id any other (ADR 0220)."""
    declared = {}
    for f in snapshot.files:
        if f.blob is None:
            continue
        lfs = hash_kind(f.blob) is HashKind.SHA256
        declared[f.path] = DeclaredFile(
            f.size_bytes, f.blob if lfs else None, None if lfs else f.blob
        )
    return declared


def _kind(blob: str) -> HashKind:
    kind = hash_kind(blob)
    assert kind is not None  # checked by the caller
    return kind


def _skip(repo: CachedRepo, reason: SkipReason, detail: str) -> SkippedRepo:
    return SkippedRepo(repo.repo_id, repo.kind, reason, detail)


def adopted_metadata(
    revision: str,
    files: Sequence[str],
    from_files: Mapping[str, Any],
    remote: RemoteModel | None,
    cache: str,
) -> CommitMetadata:
    """The vault metadata of an adopted model: the source's description when there is one
    (its revision is the snapshot's), else what the cached files say, marked as such. The
    format and GGUF quantisations always come from the files adopted."""
    described = ModelDescription(
        revision=revision,
        parameter_count=from_files.get("parameter_count"),
        format=tuple(from_files.get("format") or ()),
        quantization=from_files.get("quantization"),
        architecture=from_files.get("architecture"),
        license=from_files.get("license"),
    )
    if remote is None:
        return CommitMetadata(
            described=described, adopted_from=cache, metadata_from=METADATA_FROM_CACHE
        )
    described = attrs.evolve(
        described,
        parameter_count=_first(remote.parameter_count, described.parameter_count),
        quantization=_first(
            quantization_of(remote, files) if remote.files else None,
            described.quantization,
            remote.quantization,
        ),
        architecture=_first(remote.architecture, described.architecture),
        license=_first(remote.license, described.license),
    )
    return CommitMetadata(described=described, adopted_from=cache, metadata_from=remote.source)


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def adopt(
    cache: ModelCache,
    store: ModelStore,
    clock: Clock,
    source: ModelSource | None,
    source_name: str,
    model_ids: Collection[str] | None = None,
    *,
    move: bool = False,
    dry_run: bool = False,
    valid_id: Callable[[str], str] = validate_model_id,
) -> AdoptReport:
    """Bring the cache's model repos (or only `model_ids`) into the vault, each by linking
    its chosen, verified snapshot into staging and committing it; report each repo.
    `valid_id` checks an id by the source's own rules (default: the core's path safety).

    `source` (the Hugging Face source, if any) describes the models; once it proves
    unreachable it is not asked again in this run and the cached files are read instead.
    With `move`, a snapshot leaves the cache only after its model is committed."""
    if isinstance(model_ids, str):  # one id, not the characters of one
        model_ids = [model_ids]
    wanted = sorted({valid_id(m) for m in model_ids}) if model_ids else None
    repos = cache.repos()
    if wanted is not None:
        by_id = {r.repo_id: r for r in repos if r.kind == MODEL}
        missing = [
            SkippedRepo(m, MODEL, SkipReason.NOT_IN_CACHE, f"not in the cache at {cache.location}")
            for m in wanted
            if m not in by_id
        ]
        repos = [by_id[m] for m in wanted if m in by_id]
    else:
        missing = []
    adopted: list[AdoptedModel] = []
    present: list[str] = []
    skipped: list[SkippedRepo] = list(missing)
    describer = _Describer(source)
    with store.grouped():  # the vault's derived views (manifest.json) follow once, at the end
        for repo in sorted(repos, key=lambda r: (r.kind, r.repo_id)):
            if repo.kind != MODEL:
                skipped.append(
                    _skip(repo, SkipReason.NOT_A_MODEL, f"a {repo.kind} repo, not a model")
                )
                continue
            try:
                valid_id(repo.repo_id)
            except DevonError as error:
                skipped.append(
                    SkippedRepo(repo.folder, repo.kind, SkipReason.INVALID_ID, str(error))
                )
                continue
            with store.lock(source_name, repo.repo_id):
                if store.get(source_name, repo.repo_id) is not None:
                    present.append(repo.repo_id)
                    continue
                planned = sum(m.size_bytes for m in adopted) if dry_run else 0
                outcome = _adopt_one(
                    cache, store, clock, describer, source_name, repo, dry_run, planned
                )
            if isinstance(outcome, SkippedRepo):
                skipped.append(outcome)
                continue
            adopted.append(outcome[0])
            if move and not dry_run:
                try:
                    cache.release(repo, outcome[1])
                except DevonError as error:
                    skipped.append(
                        _skip(
                            repo,
                            SkipReason.FAILED,
                            f"adopted, but not removed from the cache: {error}",
                        )
                    )
    return AdoptReport(
        cache=cache.location,
        dry_run=dry_run,
        adopted=tuple(adopted),
        already_present=tuple(present),
        skipped=tuple(sorted(skipped, key=lambda s: (s.kind, s.repo))),
    )


def _adopt_one(
    cache: ModelCache,
    store: ModelStore,
    clock: Clock,
    describer: "_Describer",
    source_name: str,
    repo: CachedRepo,
    dry_run: bool,
    planned_bytes: int,
) -> tuple[AdoptedModel, CachedSnapshot] | SkippedRepo:
    chosen = choose_snapshot(repo)
    if isinstance(chosen, SkippedRepo):
        return chosen
    try:
        problem = check_snapshot(repo, chosen, lambda f, kind: cache.digest(repo, chosen, f, kind))
        if problem is not None:
            return problem
        files = tuple(sorted(f.path for f in chosen.files))
        _check_quota(store, chosen.size_bytes, planned_bytes)
        if dry_run:
            return AdoptedModel(
                repo.repo_id, source_name, chosen.revision, chosen.size_bytes, files
            ), chosen
        remote = describer.describe(repo.repo_id)
        metadata = attrs.evolve(
            adopted_metadata(
                chosen.revision, files, cache.describe(repo, chosen), remote, cache.location
            ),
            declared_files=declared_by_blobs(chosen),
        )
        staging = store.stage(source_name, repo.repo_id)
        cache.place(repo, chosen, staging.path)
        model = _commit(store, staging, files, clock, metadata)
    except DevonError as error:
        return _skip(repo, SkipReason.FAILED, str(error))
    entry = AdoptedModel(
        model.model_id,
        model.source,
        chosen.revision,
        model.size_bytes,
        model.files,
        model.path,
        metadata.metadata_from,
    )
    return entry, chosen


def _commit(
    store: ModelStore,
    staging: StagingArea,
    files: Sequence[str],
    clock: Clock,
    metadata: CommitMetadata,
) -> LocalModel:
    """Commit, and tell what the vault holds: a commit that fails after its files were moved
    into place is finished by the store, and then the model is adopted after all."""
    try:
        return store.commit(staging, files, clock.now(), metadata)
    except DevonError:
        recorded = store.get(staging.source, staging.model_id)
        if recorded is None:
            raise
        return recorded


def _check_quota(store: ModelStore, size_bytes: int, planned_bytes: int) -> None:
    """Only the quota is checked up front: a hard link takes no room on the disk, and a copy
    that does not fit fails by itself. `planned_bytes`: what a dry run has counted so far."""
    space = store.space()
    check_room(
        size_bytes,
        attrs.evolve(
            space,
            free_bytes=max(space.free_bytes, size_bytes),
            used_bytes=space.used_bytes + planned_bytes,
        ),
    )


class _Describer:
    """Asks the source about each model until it proves unreachable, then stops asking."""

    def __init__(self, source: ModelSource | None) -> None:
        self._source = source

    def describe(self, model_id: str) -> RemoteModel | None:
        if self._source is None:
            return None
        try:
            return self._source.info(model_id)
        except SourceUnavailable:
            self._source = None
            return None
        except DevonError:  # not on the source, gated, private: the cached files say it
            return None
