"""`scan`: registering model folders people placed in the vault by hand, where they are.

Where a folder is and what it becomes:
- `<root>/<source>/<name>/` or `<root>/<source>/<owner>/<name>/`, where `<source>` is a known
  source (a plugin's, `local`, or one the index already lists), is registered in place as
  that source's `<name>` or `<owner>/<name>` (a folder with files of its own is a model,
  else an owner of models, as when an index is rebuilt);
- any other folder under the root, `<root>/<name>/` (or `<root>/<owner>/<name>/`), is
  registered in place as `local/<name>` (or `local/<owner>/<name>`), its folder recorded in
  its metadata (`paths.PLACED_FOLDER`): scripts that point at it keep working (ADR 0210).
  Only when asked (`move`) is it moved to `<root>/local/<name>/` first (one rename, on the
  same disk), and each move is reported.

Nothing that resolves outside the vault is registered, and nothing is moved through a
symbolic link: a link at the root (`local` itself, say) is reported, never followed.
A folder is skipped, and reported, when it holds no model file (weights of a known format),
when it is still being written (a `.part`, `.incomplete` or similar file anywhere in it,
huggingface_hub's `.cache/huggingface/download/*.incomplete` included), when its name is
not a valid model id, when it would share a directory with a model already listed, or
when it cannot be moved (a mount point, another filesystem): nothing is lost, and the rest
of the scan goes on.
Registered models get metadata inferred from their files (`inference.py`), marked
`"inferred": true`, and the scan's time as `downloaded_at`. With `reconcile`, models whose
folder is gone are dropped from the index. With `dry_run`, the result says what a scan
would do and nothing changes.
"""

import contextlib
import errno
import os
from collections.abc import Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from devon_adapters.index.backends import VaultIndex
from devon_adapters.index.records import Record
from devon_adapters.model_files.inference import infer_metadata
from devon_adapters.model_files.names import is_model_file
from devon_adapters.vault.paths import (
    PLACED_FOLDER,
    STATE_DIR,
    VaultPaths,
    half_written_file,
    make_private_dirs,
    walk_files,
)
from devon_core.errors import InvalidInput
from devon_core.identifiers import LOCAL_SOURCE, validate_model_id
from devon_core.models import LocalModel
from devon_core.results import ScanMove, ScanResult, ScanSkip


class ScannedVault(Protocol):
    """What a scan needs of the vault it scans (`DiskModelStore` is one)."""

    @property
    def root(self) -> str: ...

    @property
    def paths(self) -> VaultPaths: ...

    @property
    def index(self) -> VaultIndex: ...

    def lock(self, source: str, model_id: str) -> AbstractContextManager[None]: ...

    def get(self, source: str, model_id: str) -> LocalModel | None: ...

    def refuse_clash(self, source: str, model_id: str, db: Any = None) -> None: ...

    def refresh_manifest(self) -> None: ...

    def vanished(self, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]: ...


def scan_vault(
    store: ScannedVault,
    known_sources: Collection[str],
    reconcile: bool,
    *,
    move: bool = False,
    dry_run: bool = False,
) -> ScanResult:
    root = Path(store.root)
    listed = set(store.index.model_keys())
    sources = {*known_sources, *(source for source, _ in listed), LOCAL_SOURCE}
    registered: list[str] = []
    moved: list[ScanMove] = []
    skipped: list[ScanSkip] = []
    for candidate in _candidates(root, sources, skipped):
        source, model_id, directory = candidate
        if (source, model_id) in listed:
            if not _listed_here(store, source, model_id, directory):
                skipped.append(
                    ScanSkip(str(directory), f"{source}/{model_id} is already in the vault")
                )
            continue
        placed = directory != store.paths.model_dir(source, model_id)
        target = store.paths.model_dir(source, model_id) if placed and move else directory
        problem = _register(store, source, model_id, directory, target, dry_run)
        if problem is None:
            registered.append(f"{source}/{model_id}")
            if target != directory:
                moved.append(ScanMove(f"{source}/{model_id}", str(directory), str(target)))
        elif problem is not _TAKEN:
            skipped.append(ScanSkip(str(directory), problem))
    dropped = _reconcile(store, dry_run) if reconcile else []
    return ScanResult(tuple(registered), tuple(dropped), tuple(skipped), tuple(moved), dry_run)


def _listed_here(store: ScannedVault, source: str, model_id: str, directory: Path) -> bool:
    """Whether the listed model `source`/`model_id` is the one in `directory`."""
    if directory == store.paths.model_dir(source, model_id):
        return True
    model = store.get(source, model_id)  # a local model registered where it was placed
    return model is not None and model.path == str(directory)


_NOT_MODELS = frozenset({STATE_DIR, "lost+found"})
"""Folders of the vault's root that are never models (DEVON's state; a mount point's)."""

Candidate = tuple[str, str, Path]
"""(source, model_id, the folder holding the model now)."""


def _candidates(root: Path, sources: set[str], skipped: list[ScanSkip]) -> Iterator[Candidate]:
    skipped.extend(_unusable_at_root(root))
    for top in _folders(root):
        if top.name in _NOT_MODELS or top.name.startswith("."):
            continue
        if top.name in sources:
            for model_id, directory in _models_under(top, skipped):
                yield top.name, model_id, directory
        else:
            for model_id, directory in _models_under(root, skipped, only=top):
                yield LOCAL_SOURCE, model_id, directory


def _models_under(
    base: Path, skipped: list[ScanSkip], only: Path | None = None
) -> Iterator[tuple[str, Path]]:
    """(model id relative to `base`, folder) for each model folder in `base` (or in just its
    child `only`): a child with files of its own is a model, else each of its children."""
    for first in [only] if only else _folders(base):
        if not _valid(first.name, first, skipped):
            continue
        if _has_own_files(first):
            yield first.name, first
            continue
        for second in _folders(first):
            if _valid(second.name, second, skipped):
                yield f"{first.name}/{second.name}", second


_TAKEN = "taken care of elsewhere"
"""What `_register` says when another process registered or moved the folder meanwhile."""


def _register(
    store: ScannedVault,
    source: str,
    model_id: str,
    directory: Path,
    target: Path,
    dry_run: bool,
) -> str | None:
    """Register the folder `directory` as `source`/`model_id` at `target` (moving it there
    first when they differ); return why not, or None once it is listed (on a dry run: once
    nothing stands in the way)."""
    with store.lock(source, model_id):
        if not directory.is_dir() or directory.is_symlink():
            return _TAKEN  # another scan moved it, or it was deleted: nothing to report
        existing = store.get(source, model_id)
        if existing is not None:
            taken = existing.path in (str(directory), str(target))
            return _TAKEN if taken else f"{source}/{model_id} is already in the vault"
        problem = _not_a_complete_model(directory)
        if problem:
            return problem
        try:
            store.refuse_clash(source, model_id)
            store.paths.ensure_inside(directory)
        except InvalidInput as error:
            return str(error)
        if target != directory:
            problem = _unsafe_target(store.paths, target) or _taken_target(target)
            if problem:
                return problem
        if dry_run:
            return None
        if target != directory:
            problem = _move(directory, target)
            if problem:
                return problem
            if directory.parent != Path(store.root):
                with contextlib.suppress(OSError):  # an owner folder left empty goes too
                    directory.parent.rmdir()
        files = {path: stat.st_size for path, stat in walk_files(target)}
        metadata = infer_metadata(target, files, model_id)
        if target != store.paths.model_dir(source, model_id):
            metadata[PLACED_FOLDER] = target.relative_to(store.root).as_posix()
        record = Record(
            source=source,
            model_id=model_id,
            size_bytes=sum(files.values()),
            downloaded_at=datetime.now(UTC),
            last_used=None,
            files=tuple(sorted(files)),
            metadata=metadata,
        )
        with store.index.write() as db:
            store.index.put(db, record)
        store.refresh_manifest()
    return None


def _unsafe_target(paths: VaultPaths, target: Path) -> str | None:
    """Why `target` must not be moved to, if any part of the way there is a symbolic link
    (a `local` linked to a folder outside the vault, say): a move goes where it says."""
    real = Path(os.path.realpath(target))
    if real == paths.real_root / target.relative_to(paths.root):
        return None
    if not real.is_relative_to(paths.real_root):
        where = f"it resolves outside the vault, to {real}"
    else:
        where = f"a symbolic link on the way leads to {real}"
    return f"not moved to {target}: {where}; it is left where it is"


def _taken_target(target: Path) -> str | None:
    if os.path.lexists(target):
        return f"{target} already exists: rename the folder and scan again"
    return None


def _move(directory: Path, target: Path) -> str | None:
    """Move a hand-placed folder to its place under `local/` in one rename; return why it
    was left where it is (a mount point, another filesystem, a name taken), or None."""
    if problem := _taken_target(target):
        return problem
    try:
        make_private_dirs(target.parent)
        os.rename(directory, target)
    except OSError as error:
        why = _UNMOVABLE.get(error.errno or 0, error.strerror or str(error))
        return (
            f"could not be moved to {target} ({why}); it is left where it is: move or mount "
            "it there yourself (or under a source's folder), then scan again"
        )
    return None


_UNMOVABLE = {
    errno.EBUSY: "it is a mount point, or in use",
    errno.EXDEV: "it is on another filesystem",
}
"""Why a rename fails, in words for the folder's owner, for the usual cases."""


def _not_a_complete_model(directory: Path) -> str | None:
    unfinished = half_written_file(directory)
    if unfinished:
        return f"still being written ({unfinished}): scan again once it is complete"
    if not any(is_model_file(path) for path, _ in walk_files(directory)):
        return "holds no model file (.safetensors, .gguf, .bin, .pt, .onnx...)"
    return None


def _reconcile(store: ScannedVault, dry_run: bool) -> list[str]:
    dropped = []
    vanished = store.vanished(store.index.model_keys())
    if dry_run:
        return sorted(f"{source}/{model_id}" for source, model_id in vanished)
    for source, model_id in vanished:
        with store.lock(source, model_id):
            if not store.vanished([(source, model_id)]):
                continue
            with store.index.write() as db:
                if store.index.delete(db, source, model_id):
                    dropped.append(f"{source}/{model_id}")
    if dropped:
        store.refresh_manifest()
    return dropped


def _unusable_at_root(root: Path) -> list[ScanSkip]:
    """What a person may have placed at the root that scan cannot take, so that it is
    reported rather than silently ignored: a link to a folder, a lone model file."""
    found = []
    try:
        with os.scandir(root) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name.startswith("."):
                    continue
                if entry.is_symlink() and entry.is_dir():
                    found.append(ScanSkip(entry.path, _A_LINK))
                elif entry.is_file(follow_symlinks=False) and is_model_file(entry.name):
                    found.append(ScanSkip(entry.path, _A_LONE_FILE))
    except OSError:
        return []
    return found


_A_LINK = (
    "is a symbolic link, which scan neither follows nor moves anything through: move the "
    "folder itself into the vault, then scan again"
)
_A_LONE_FILE = (
    "is a model file directly in the vault's root: put it in a folder of its own "
    "(<vault>/<name>/), then scan again"
)


def _folders(directory: Path) -> list[Path]:
    try:
        with os.scandir(directory) as entries:
            found = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    return sorted(found)


def _has_own_files(directory: Path) -> bool:
    try:
        with os.scandir(directory) as entries:
            return any(entry.is_file(follow_symlinks=False) for entry in entries)
    except OSError:  # gone meanwhile (another scan moved it): its children are gone too
        return False


def _valid(name: str, folder: Path, skipped: list[ScanSkip]) -> bool:
    if name.startswith("."):
        return False
    try:
        validate_model_id(name)
    except InvalidInput:
        skipped.append(ScanSkip(str(folder), f"{name!r} is not a valid model name"))
        return False
    return True
