"""`scan`: registering model folders people placed in the vault by hand.

Where a folder is and what it becomes:
- `<root>/<source>/<name>/` or `<root>/<source>/<owner>/<name>/`, where `<source>` is a known
  source (a plugin's, `local`, or one the index already lists), is registered in place as
  that source's `<name>` or `<owner>/<name>` (a folder with files of its own is a model,
  else an owner of models, as when an index is rebuilt);
- any other folder under the root, `<root>/<name>/` (or `<root>/<owner>/<name>/`), is moved
  to `<root>/local/<name>/` (one rename, on the same disk) and registered as `local/<name>`:
  every model's directory is `<root>/<source>/<model_id>`, wherever it came from.

A folder is skipped, and reported, when it holds no model file (weights of a known format),
when it is still being written (a `.part`, `.incomplete` or similar file anywhere in it,
huggingface_hub's `.cache/huggingface/download/*.incomplete` included), when its name is
not a valid model id, or when it would share a directory with a model already listed.
Registered models get metadata inferred from their files (`inference.py`), marked
`"inferred": true`, and the scan's time as `downloaded_at`. With `reconcile`, models whose
folder is gone are dropped from the index.
"""

import contextlib
import os
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from devon_adapters.index import Record
from devon_adapters.inference import infer_metadata
from devon_adapters.model_files import is_model_file
from devon_adapters.paths import STATE_DIR, half_written_file, make_private_dirs, walk_files
from devon_core.errors import InvalidInput
from devon_core.identifiers import LOCAL_SOURCE, validate_model_id
from devon_core.results import ScanResult, ScanSkip

if TYPE_CHECKING:
    from devon_adapters.disk_store import DiskModelStore


def scan_vault(
    store: "DiskModelStore", known_sources: Collection[str], reconcile: bool
) -> ScanResult:
    root = Path(store.root)
    listed = set(store._index.model_keys())
    sources = {*known_sources, *(source for source, _ in listed), LOCAL_SOURCE}
    registered: list[str] = []
    skipped: list[ScanSkip] = []
    for candidate in _candidates(root, sources, skipped):
        source, model_id, directory = candidate
        if (source, model_id) in listed:
            if directory != store.paths.model_dir(source, model_id):
                skipped.append(
                    ScanSkip(str(directory), f"{source}/{model_id} is already in the vault")
                )
            continue
        problem = _register(store, source, model_id, directory)
        if problem is None:
            registered.append(f"{source}/{model_id}")
        elif problem is not _TAKEN:
            skipped.append(ScanSkip(str(directory), problem))
    dropped = _reconcile(store) if reconcile else []
    return ScanResult(tuple(registered), tuple(dropped), tuple(skipped))


_NOT_MODELS = frozenset({STATE_DIR, "lost+found"})
"""Folders of the vault's root that are never models (DEVON's state; a mount point's)."""

Candidate = tuple[str, str, Path]
"""(source, model_id, the folder holding the model now)."""


def _candidates(root: Path, sources: set[str], skipped: list[ScanSkip]) -> Iterator[Candidate]:
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


def _register(store: "DiskModelStore", source: str, model_id: str, directory: Path) -> str | None:
    """Register one folder; return why not, or None once it is listed."""
    target = store.paths.model_dir(source, model_id)
    with store.lock(source, model_id):
        if not directory.is_dir() or directory.is_symlink():
            return _TAKEN  # another scan moved it, or it was deleted: nothing to report
        if store.get(source, model_id) is not None:
            return _TAKEN if target == directory else f"{source}/{model_id} is already in the vault"
        problem = _not_a_complete_model(directory)
        if problem:
            return problem
        try:
            store._refuse_clash(source, model_id)
            store.paths.ensure_inside(directory)
        except InvalidInput as error:
            return str(error)
        if target != directory:
            if os.path.lexists(target):
                return f"{target} already exists: rename the folder and scan again"
            make_private_dirs(target.parent)
            os.rename(directory, target)
            if directory.parent != Path(store.root):
                with contextlib.suppress(OSError):  # an owner folder left empty goes too
                    directory.parent.rmdir()
        files = {path: stat.st_size for path, stat in walk_files(target)}
        record = Record(
            source=source,
            model_id=model_id,
            size_bytes=sum(files.values()),
            downloaded_at=datetime.now(UTC),
            last_used=None,
            files=tuple(sorted(files)),
            metadata=infer_metadata(target, files, model_id),
        )
        with store._index.write() as db:
            store._index.put(db, record)
        store._refresh_manifest()
    return None


def _not_a_complete_model(directory: Path) -> str | None:
    unfinished = half_written_file(directory)
    if unfinished:
        return f"still being written ({unfinished}): scan again once it is complete"
    if not any(is_model_file(path) for path, _ in walk_files(directory)):
        return "holds no model file (.safetensors, .gguf, .bin, .pt, .onnx...)"
    return None


def _reconcile(store: "DiskModelStore") -> list[str]:
    dropped = []
    vanished = store._vanished(store._index.model_keys())
    for source, model_id in vanished:
        with store.lock(source, model_id):
            if not store._vanished([(source, model_id)]):
                continue
            with store._index.write() as db:
                if store._index.delete(db, source, model_id):
                    dropped.append(f"{source}/{model_id}")
    if dropped:
        store._refresh_manifest()
    return dropped


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
