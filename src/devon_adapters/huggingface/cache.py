"""`HuggingFaceCache`: the `ModelCache` port on a Hugging Face hub cache directory.

The layout huggingface_hub writes (and `scan_cache_dir` reads)::

    <cache>/models--<owner>--<name>/
        blobs/<sha256 or git sha1>          the content, named by its hash
        blobs/<etag>.incomplete             a download that has not finished
        refs/main                           the commit `main` resolved to
        snapshots/<commit>/<path>           symlinks into ../../blobs/

Read here rather than with `scan_cache_dir` (ADR 0160): that one drops a whole repo from its
answer when one link is broken or a ref names a snapshot not yet created, which is exactly
what an interrupted download leaves, so such a repo could neither be named in the report nor
have an intact older snapshot adopted.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from devon_adapters.huggingface.cached_files import describe_files
from devon_adapters.huggingface.metadata import SOURCE_NAME as HUGGING_FACE
from devon_adapters.model_files.identities import hash_file
from devon_core.cached import CachedFile, CachedRepo, CachedSnapshot, HashKind
from devon_core.errors import DownloadFailed, NotFound

REPO_KINDS = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}
"""Folder prefix -> repo kind, as huggingface_hub's `REPO_TYPES_MAPPING`."""

INCOMPLETE_SUFFIX = ".incomplete"
VIEW_MARKER = ".devon-view.json"
"""The marker of a repo folder DEVON made as a view of a vault (cache_view.py)."""


class HuggingFaceCache:
    """The Hugging Face cache at `location` (`~/.cache/huggingface/hub` by default; see
    `devon_app.settings.default_hf_cache`). Reading never changes it; only `release`
    (for `devon adopt --move`) deletes from it."""

    def __init__(self, location: Path | str, *, missing_ok: bool = False) -> None:
        self._root = Path(os.path.abspath(Path(location).expanduser()))
        self._missing_ok = missing_ok

    @property
    def location(self) -> str:
        return str(self._root)

    @property
    def source_name(self) -> str:
        """The source the cache's models belong to (and are adopted under)."""
        return HUGGING_FACE

    def repos(self) -> list[CachedRepo]:
        if not self._root.is_dir() and self._missing_ok and not self._root.exists():
            return []  # no cache on this machine (the configured place): nothing to adopt
        if not self._root.is_dir():
            raise NotFound(
                f"No Hugging Face cache at {self._root}: point DEVON_HF_CACHE (or HF_HUB_CACHE, "
                "HF_HOME) at it, or pass --cache DIR"
            )
        found = []
        for entry in sorted(os.scandir(self._root), key=lambda e: e.name):
            prefix, sep, rest = entry.name.partition("--")
            if sep and prefix in REPO_KINDS and entry.is_dir(follow_symlinks=False):
                if os.path.lexists(os.path.join(entry.path, VIEW_MARKER)):
                    continue  # a vault's view (`devon link hf-cache`), not a download
                found.append(self._repo(Path(entry.path), REPO_KINDS[prefix], rest))
        if not found and _holds_repos(self._root / "hub"):
            raise NotFound(
                f"{self._root} is not a Hugging Face cache but holds one in hub/ (it is "
                f"HF_HOME, the cache is HF_HOME/hub): use {self._root / 'hub'}"
            )
        return found

    def _repo(self, folder: Path, kind: str, encoded_id: str) -> CachedRepo:
        blobs = folder / "blobs"
        unfinished = (
            sum(1 for name in os.listdir(blobs) if name.endswith(INCOMPLETE_SUFFIX))
            if blobs.is_dir()
            else 0
        )
        snapshots_dir = folder / "snapshots"
        snapshots = (
            tuple(
                self._snapshot(Path(entry.path), blobs)
                for entry in sorted(os.scandir(snapshots_dir), key=lambda e: e.name)
                if entry.is_dir(follow_symlinks=False)
            )
            if snapshots_dir.is_dir()
            else ()
        )
        return CachedRepo(
            kind=kind,
            repo_id=encoded_id.replace("--", "/"),
            folder=folder.name,
            snapshots=snapshots,
            refs=_refs(folder / "refs"),
            unfinished=unfinished,
        )

    def _snapshot(self, directory: Path, blobs: Path) -> CachedSnapshot:
        files = []
        newest = directory.stat().st_mtime
        for relative, path in _entries(directory):
            blob = _blob_name(path, blobs)
            try:
                stat = path.stat()  # follows every link to the content
            except OSError:
                files.append(CachedFile(relative, blob, 0, present=False))
                continue
            newest = max(newest, stat.st_mtime)
            files.append(CachedFile(relative, blob, stat.st_size))
        return CachedSnapshot(directory.name, tuple(files), newest)

    def _file(self, repo: CachedRepo, snapshot: CachedSnapshot, file: CachedFile) -> Path:
        return self._root / repo.folder / "snapshots" / snapshot.revision / file.path

    def digest(
        self, repo: CachedRepo, snapshot: CachedSnapshot, file: CachedFile, kind: HashKind
    ) -> str:
        path = self._file(repo, snapshot, file)
        try:
            return hash_file(path, kind)
        except OSError as error:
            raise DownloadFailed(f"Cannot read {path}: {error.strerror or error}") from None

    def describe(self, repo: CachedRepo, snapshot: CachedSnapshot) -> dict[str, Any]:
        directory = self._root / repo.folder / "snapshots" / snapshot.revision
        return describe_files(repo.repo_id, directory, [f.path for f in snapshot.files])

    def place(self, repo: CachedRepo, snapshot: CachedSnapshot, dest: str) -> None:
        for file in snapshot.files:
            origin = os.path.realpath(self._file(repo, snapshot, file))
            target = Path(dest) / file.path
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.unlink(missing_ok=True)  # left by an earlier attempt
                try:
                    os.link(origin, target)  # instant, and no second copy on disk
                except OSError:
                    shutil.copyfile(origin, target)  # another filesystem, or no hard links
            except OSError as error:
                raise DownloadFailed(
                    f"Could not put {file.path} of {repo.repo_id} into the vault's staging "
                    f"({error.strerror or error}); the cache is untouched"
                ) from None

    def release(self, repo: CachedRepo, snapshot: CachedSnapshot) -> None:
        folder = self._root / repo.folder
        blobs = folder / "blobs"
        mine = {f.blob for f in snapshot.files if f.blob}
        try:
            shutil.rmtree(folder / "snapshots" / snapshot.revision)
            others = {
                _blob_name(path, blobs)
                for other in (folder / "snapshots").iterdir()
                if other.is_dir() and not other.is_symlink()
                for _, path in _entries(other)
            }
            for blob in mine - others:
                (blobs / blob).unlink(missing_ok=True)
            for name, revision in _refs(folder / "refs").items():
                if revision == snapshot.revision:
                    (folder / "refs" / name).unlink(missing_ok=True)
            if not any((folder / "snapshots").iterdir()) and not (
                blobs.is_dir() and any(blobs.iterdir())
            ):
                shutil.rmtree(folder)
                shutil.rmtree(self._root / ".locks" / repo.folder, ignore_errors=True)
        except OSError as error:
            raise DownloadFailed(
                f"Could not remove {repo.repo_id} from the cache: {error.strerror or error}"
            ) from None


def _holds_repos(directory: Path) -> bool:
    """Whether `directory` has a repo folder of a Hugging Face cache (`models--...`)."""
    try:
        with os.scandir(directory) as entries:
            return any(e.name.partition("--")[0] in REPO_KINDS for e in entries if "--" in e.name)
    except OSError:
        return False


def _entries(directory: Path) -> Iterator[tuple[str, Path]]:
    """Every file entry (links included, broken ones too) under `directory`, by POSIX path,
    without following links to directories."""
    for current, dirs, names in os.walk(directory):
        base = Path(current)
        dirs.sort()
        for name in sorted(names):
            path = base / name
            yield path.relative_to(directory).as_posix(), path


def _blob_name(path: Path, blobs: Path) -> str | None:
    """The name of the blob a snapshot entry links to (its first hop: a blob may itself link
    into a shared store), or None when it is not a link into `blobs`."""
    if not path.is_symlink():
        return None
    target = Path(os.path.normpath(path.parent / os.readlink(path)))
    return target.name if target.parent == Path(os.path.normpath(blobs)) else None


def _refs(directory: Path) -> dict[str, str]:
    refs: dict[str, str] = {}
    if not directory.is_dir():
        return refs
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            try:
                refs[path.relative_to(directory).as_posix()] = path.read_text().strip()
            except (OSError, UnicodeDecodeError):
                continue
    return refs
