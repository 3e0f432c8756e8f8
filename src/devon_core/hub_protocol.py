"""The vault as the Hugging Face Hub shows a model repository (ADR 0215): which commit a
model is at, which revisions name it, which files it exposes and under which identities,
and when a file read counts as a use. Pure rules; `Devon.hub_model` / `Devon.hub_file` apply
them, and `devon_http.hub_routes` speaks them over the Hub's paths."""

import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

import attrs

from devon_core.errors import InvalidInput, NotFound, SourceUnavailable
from devon_core.identifiers import validate_model_id
from devon_core.models import LocalModel, RemoteFile, RemoteModel
from devon_core.ports import Clock, ModelStore
from devon_core.quantizations import literal_pattern
from devon_core.use_cases import recorded_patterns

COMMIT = re.compile(r"[0-9a-f]{40}")
"""A full git commit id, as the Hub writes it."""

SHORTEST_PREFIX = 4
"""The shortest commit prefix taken as a revision (git's own minimum for abbreviations)."""

BRANCHES = frozenset({"main", "refs/heads/main"})
"""Revision names that mean "the copy the vault holds"."""

USE_MARKED_EVERY = timedelta(minutes=1)
"""A file read marks its model used unless it was marked this recently: a client reading a
model's files through eight ranged connections writes the index once, not per request."""


class RevisionNotFound(NotFound):
    """The model is in the vault, but not at the revision asked for."""


class EntryNotFound(NotFound):
    """The model has no such file. `commit` is the commit the vault holds, when it holds
    the model (the Hub names it in its answer)."""

    def __init__(
        self, message: str, *, commit: str | None = None, model_id: str | None = None
    ) -> None:
        super().__init__(message, model_id=model_id)
        self.commit = commit


class LandedInStaging(NotFound):
    """The vault lacks the file, but the download pulling it has landed it in its staging,
    verified (ADR 0290): the caller sends it from there."""


class FileIdentityLike(Protocol):
    """A file's Hub identity (the adapters' `model_files.identities.FileIdentity` is one)."""

    @property
    def path(self) -> str: ...

    @property
    def size_bytes(self) -> int: ...

    @property
    def sha256(self) -> str | None:
        """The content's sha256 when the Hub keeps the file in LFS, else None."""
        ...

    @property
    def git_blob_id(self) -> str | None:
        """The content's git blob id when the file is not in LFS."""
        ...


FileIdentities = Callable[[LocalModel], Sequence[FileIdentityLike]]
"""Reads the Hub identity of every file of a model held in the vault (in `files` order)."""


@attrs.frozen
class ServedFile:
    """One file of a served model, as the Hub describes it."""

    path: str
    """POSIX path relative to the model folder (the Hub's `rfilename`)."""
    local_path: str | None
    """Where the bytes are on this machine; None for a file listed from upstream that the
    vault does not hold (pull-through, ADR 0255)."""
    size_bytes: int
    sha256: str | None
    """The content's sha256 for a file in LFS."""
    blob_id: str | None
    """The git blob id the Hub lists (`oid`): of the LFS pointer for an LFS file. None for
    a file not in LFS that the vault does not hold (upstream's listing does not give it)."""

    @property
    def is_lfs(self) -> bool:
        return self.sha256 is not None

    @property
    def etag(self) -> str:
        """The Hub's ETag: the sha256 for an LFS file, the git blob id otherwise (a file
        the vault holds always has one)."""
        return self.sha256 if self.sha256 is not None else (self.blob_id or "")

    @property
    def held_path(self) -> str:
        """`local_path` of a file the vault holds; NotFound for one it does not."""
        if self.local_path is None:
            raise EntryNotFound(f"Entry not found: the vault does not hold {self.path!r}")
        return self.local_path

    @property
    def pointer_size(self) -> int | None:
        """The size of the LFS pointer git holds for it (None when not in LFS)."""
        return None if self.sha256 is None else len(lfs_pointer(self.sha256, self.size_bytes))


@attrs.frozen
class ServedModel:
    """A model as a Hub repository at one commit: the vault's copy, or with pull-through
    upstream's listing merged with what the vault holds of it (ADR 0255)."""

    repo_id: str
    commit: str
    files: tuple[ServedFile, ...]
    model: LocalModel | None
    """The vault's copy (None when the vault holds nothing of the model yet)."""
    modified_at: datetime | None
    """When the copy arrived in the vault, or upstream's last change of a model it lacks."""

    def file(self, path: str) -> ServedFile:
        """The file at `path`; EntryNotFound when the model has none there."""
        for served in self.files:
            if served.path == path:
                return served
        raise EntryNotFound(
            f"Entry not found: {path!r} is not a file of {self.repo_id} in the vault",
            commit=self.commit,
            model_id=self.repo_id,
        )


def commit_of(model: LocalModel) -> str:
    """The commit the vault's copy is at: the revision its source recorded, when that is a
    full commit id; otherwise (a model found by `scan`, adopted without one) a stable id of
    this copy, which changes when the copy is replaced."""
    revision = model.metadata.get("revision")
    if isinstance(revision, str) and COMMIT.fullmatch(revision.lower()):
        return revision.lower()
    seed = f"devon\0{model.source}\0{model.model_id}\0{model.downloaded_at.isoformat()}"
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()


def names_commit(revision: str, commit: str) -> bool:
    """Whether a client's `revision` names `commit`: the branch (`main`), the commit, or a
    prefix of it of at least `SHORTEST_PREFIX` characters."""
    asked = revision.strip().lower()
    if asked in BRANCHES:
        return True
    return len(asked) >= SHORTEST_PREFIX and commit.startswith(asked)


def check_revision(model: LocalModel, commit: str, revision: str) -> None:
    if not names_commit(revision, commit):
        raise RevisionNotFound(
            f"Invalid rev id: {revision!r}; the vault holds {model.model_id} at {commit}",
            model_id=model.model_id,
        )


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The pointer file git keeps for an LFS object (git-lfs spec v1)."""
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"
    ).encode()


def git_blob_id(data: bytes) -> str:
    """The id git gives a blob holding `data`."""
    header = b"blob %d\0" % len(data)
    return hashlib.sha1(header + data, usedforsecurity=False).hexdigest()


def served_files(
    model: LocalModel, identities: Sequence[FileIdentityLike]
) -> tuple[ServedFile, ...]:
    """Every file of `model` the Hub paths expose (what the vault holds of it, download
    metadata never included), with its identity."""
    by_path = {identity.path: identity for identity in identities}
    files = []
    for path in model.files:
        identity = by_path.get(path)
        if identity is None:
            continue
        if identity.sha256 is not None:
            blob = git_blob_id(lfs_pointer(identity.sha256, identity.size_bytes))
        elif identity.git_blob_id is not None:
            blob = identity.git_blob_id
        else:
            continue
        files.append(
            ServedFile(
                path=path,
                local_path=f"{model.path.rstrip('/')}/{path}",
                size_bytes=identity.size_bytes,
                sha256=identity.sha256,
                blob_id=blob,
            )
        )
    return tuple(files)


def use_is_due(model: LocalModel, now: datetime) -> bool:
    """Whether a file read should mark `model` used (see `USE_MARKED_EVERY`)."""
    return model.last_used is None or now - model.last_used >= USE_MARKED_EVERY


Pull = Callable[[tuple[str, ...] | None], LocalModel]
"""Brings the model into the vault (every file, or those the patterns name) and returns
the vault's copy: the download job of pull-through (`Devon.hub_file`)."""

Upstream = Callable[[], RemoteModel]
"""The upstream source's description of the model (its commit and files with sizes and
sha256s, no file bytes): what pull-through lists of a model the vault lacks (ADR 0255)."""


def served_model(
    store: ModelStore,
    identities: FileIdentities,
    source: str,
    model_id: str,
    revision: str,
    upstream: Upstream | None,
) -> ServedModel:
    """The vault's copy of `model_id` as a repository at `revision`. With `upstream`
    (pull-through), a model the vault lacks, or holds only some files of, is answered from
    upstream's listing at upstream's commit, the files the vault holds with their own
    identities; nothing is downloaded (ADR 0255). A partial copy at another commit than
    upstream's answers as held: its own commit and files."""
    validate_model_id(model_id)
    present = store.get(source, model_id)
    if upstream is not None and (present is None or recorded_patterns(present) is not None):
        remote = upstream()
        commit = (remote.revision or "").lower()
        if not COMMIT.fullmatch(commit):
            raise SourceUnavailable(
                f"The upstream source named no commit for {model_id}: cannot list it"
            )
        if present is None or commit_of(present) == commit:
            return _mirrored(model_id, commit, present, remote, identities, revision)
    return _at_revision(_held(present, model_id), identities, revision)


def _mirrored(
    model_id: str,
    commit: str,
    present: LocalModel | None,
    remote: RemoteModel,
    identities: FileIdentities,
    revision: str,
) -> ServedModel:
    if not names_commit(revision, commit):
        raise RevisionNotFound(
            f"Invalid rev id: {revision!r}; the upstream source has {model_id} at {commit}",
            model_id=model_id,
        )
    held = served_files(present, identities(present)) if present is not None else ()
    held_paths = {f.path for f in held}
    lacking = [_upstream_file(f) for f in remote.files if f.path not in held_paths]
    files = tuple(sorted([*held, *lacking], key=lambda f: f.path))
    modified = present.downloaded_at if present is not None else _time(remote.updated_at)
    return ServedModel(model_id, commit, files, present, modified)


def _upstream_file(remote: RemoteFile) -> ServedFile:
    """A file the vault lacks, as upstream lists it: its size and, in LFS, its sha256."""
    blob = (
        git_blob_id(lfs_pointer(remote.sha256, remote.size_bytes))
        if remote.sha256 is not None
        else None
    )
    return ServedFile(remote.path, None, remote.size_bytes, remote.sha256, blob)


def _time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment


def served_file(
    store: ModelStore,
    clock: Clock,
    identities: FileIdentities,
    source: str,
    model_id: str,
    revision: str,
    path: str,
    pull: Pull | None,
    *,
    use: bool,
) -> tuple[ServedModel, ServedFile]:
    """File `path` of the vault's copy of `model_id` at `revision`; with `use`, the read
    marks the model used (at most once a `USE_MARKED_EVERY`). With `pull`, a file the vault
    lacks is fetched first, unless the vault holds the whole repository (then the file
    does not exist at that commit)."""
    validate_model_id(model_id)
    present = store.get(source, model_id)
    partial = present is not None and recorded_patterns(present) is not None
    if pull is not None and (present is None or (partial and path not in present.files)):
        try:
            present = pull((literal_pattern(path),))
        except InvalidInput as error:  # the source's repository has no such file
            raise EntryNotFound(f"Entry not found: {error}", model_id=model_id) from error
    held = _held(present, model_id)
    served = _at_revision(held, identities, revision)
    found = served.file(path)
    now = clock.now()
    if use and use_is_due(held, now):
        store.mark_used(source, model_id, now)
    return served, found


def _held(present: LocalModel | None, model_id: str) -> LocalModel:
    if present is None:
        raise NotFound(
            f"Repository not found: the vault holds no model {model_id!r}", model_id=model_id
        )
    return present


def _at_revision(model: LocalModel, identities: FileIdentities, revision: str) -> ServedModel:
    commit = commit_of(model)
    check_revision(model, commit, revision)
    files = served_files(model, identities(model))
    return ServedModel(model.model_id, commit, files, model, model.downloaded_at)


@attrs.frozen
class TreeListing:
    """What the Hub lists under a folder of a repository: folders first, then files."""

    folders: tuple[str, ...]
    files: tuple[ServedFile, ...]


def tree(served: ServedModel, path: str, recursive: bool) -> TreeListing | None:
    """The entries under `path` (`""`: the root): its files and folders, or with
    `recursive` everything below it; a file's path lists that file. None when `path` is
    neither a file nor a folder of the repository."""
    clean = path.strip("/")
    exact = [f for f in served.files if f.path == clean]
    if clean and exact:
        return TreeListing((), tuple(exact))
    prefix = f"{clean}/" if clean else ""
    below = [f for f in served.files if f.path.startswith(prefix)]
    if clean and not below:
        return None
    folders: set[str] = set()
    files = []
    for served_file in below:
        parts = served_file.path[len(prefix) :].split("/")
        for depth in range(1, len(parts) if recursive else min(len(parts), 2)):
            folders.add(prefix + "/".join(parts[:depth]))
        if recursive or len(parts) == 1:
            files.append(served_file)
    return TreeListing(tuple(sorted(folders)), tuple(sorted(files, key=lambda f: f.path)))


class Unsatisfiable(ValueError):
    """A `Range` no byte of the file answers (HTTP 416)."""


def requested_span(header: str | None, size: int) -> tuple[int, int] | None:
    """The span of a file of `size` bytes a request's `Range` header asks for: one
    `bytes=` range (`a-b`, `a-`, `-n`); None for the whole file (no header, one that is not
    a single byte range, which HTTP lets a server ignore: several ranges would need a
    multipart answer). Unsatisfiable when it starts past the end."""
    if not header or not header.strip().lower().startswith("bytes=") or "," in header:
        return None
    first, _, last = header.strip()[len("bytes=") :].strip().partition("-")
    if not (first or last) or not (first or "0").isdigit() or not (last or "0").isdigit():
        return None
    if not first:
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable(header)
        return (max(size - length, 0), size)
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if last and int(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable(header)
    return (start, end)
