"""Import of a vault written by DEVON 1.x.

Two forms are read:
- DEVON 1.0/1.1: `index.json` beside a `models/` folder, files at `models/<source>/<model_id>/`;
- DEVON 1.2: `manifest.json` inside the models folder itself (the folder is self-contained;
  the path given may be that folder or its parent holding `models/`), files at each entry's
  `path` when it still lies inside the folder, else `<models>/<source>/<model_id>/`.

Both key their entries `"<source>::<model_id>"` and wrote naive local timestamps
(`datetime.now().isoformat()`), read here as local time.
"""

import json
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devon_adapters.disk_store import DiskModelStore
from devon_adapters.manifest import MANIFEST_NAME, identify, parse_time
from devon_adapters.paths import check_relative_file, is_download_metadata, walk_files
from devon_core.commit_metadata import CommitMetadata
from devon_core.errors import DevonError, InvalidInput
from devon_core.results import ImportReport

LEGACY_INDEX = "index.json"
LEGACY_MODELS = "models"


def import_legacy_vault(
    store: DiskModelStore, legacy_root: Path, move: bool = False
) -> ImportReport:
    """Copy (or, with `move`, move) every model of a 1.x vault into `store` and record it.
    A move removes a model's legacy files only once it is committed.

    Entries whose files are missing are skipped and reported. Running it again imports
    nothing twice: models already in the vault are left as they are."""
    index_path, models_dir = _locate(Path(legacy_root))
    entries = _read_index(index_path)
    imported: list[str] = []
    present: list[str] = []
    skipped: list[tuple[str, str]] = []
    with store.grouped():  # the manifest is written once, at the end
        for key, entry in sorted(entries.items()):
            try:
                source, model_id = identify(key, entry)
            except InvalidInput as error:
                skipped.append((key, str(error)))
                continue
            name = f"{source}/{model_id}"
            with store.lock(source, model_id):
                if store.get(source, model_id) is not None:
                    present.append(name)
                    continue
                directory = _directory_of(models_dir, entry, source, model_id)
                try:
                    problem = _import_one(store, directory, source, model_id, entry, move)
                except (DevonError, OSError) as error:
                    problem = str(error)
            if problem:
                skipped.append((name, problem))
            else:
                imported.append(name)
    return ImportReport(tuple(imported), tuple(present), tuple(skipped))


def _locate(root: Path) -> tuple[Path, Path]:
    """(the index file, the models folder) of the 1.x vault at `root`."""
    for index, models in (
        (root / LEGACY_INDEX, root / LEGACY_MODELS),
        (root / MANIFEST_NAME, root),
        (root / LEGACY_MODELS / MANIFEST_NAME, root / LEGACY_MODELS),
    ):
        if index.is_file():
            return index, models
    raise InvalidInput(
        f"No DEVON 1.x vault here: {root / LEGACY_INDEX} does not exist (DEVON 1.0, 1.1), "
        f"nor {MANIFEST_NAME} in {root} or its {LEGACY_MODELS}/ folder (DEVON 1.2)"
    )


def _read_index(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"No DEVON 1.x vault here: {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"Cannot read the DEVON 1.x index {path}: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} is not a DEVON 1.x index (expected a JSON object)")
    return data


def _directory_of(models: Path, entry: dict[str, Any], source: str, model_id: str) -> Path:
    """The entry's recorded `path` when it lies inside the legacy vault (1.x let the models
    folder be named anything), else `<models>/<source>/<model_id>` (a vault copied from
    elsewhere records paths of the machine it came from)."""
    recorded = entry.get("path")
    vault = models.parent if models.name == LEGACY_MODELS else models
    if isinstance(recorded, str) and recorded:
        path = Path(recorded)
        if path.is_absolute() and path.resolve().is_relative_to(vault.resolve()):
            return path
    return models / source / model_id


def _import_one(
    store: DiskModelStore,
    directory: Path,
    source: str,
    model_id: str,
    entry: dict[str, Any],
    move: bool,
) -> str | None:
    """Bring one model in; return why not, or None when it landed."""
    if not directory.is_dir():
        return f"its directory {directory} is missing"
    try:
        files = _files_of(entry.get("files"), directory)
    except InvalidInput as error:
        return str(error)
    missing = [f for f in files if not (directory / f).is_file()]
    if missing or not files:
        return f"files missing from {directory}: {', '.join(missing) or 'all'}"
    staging = store.stage(source, model_id)
    for relative in files:
        origin, dest = directory / relative, Path(staging.path) / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        _transfer(origin, dest, move)
    metadata = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else {}
    downloaded_at = parse_time(entry.get("downloaded_at")) or datetime.now(UTC)
    store.commit(staging, files, downloaded_at, CommitMetadata.as_recorded(metadata or {}))
    last_used = parse_time(entry.get("last_used"))
    if last_used:
        store.mark_used(source, model_id, last_used)
    if move:
        for relative in files:
            (directory / relative).unlink(missing_ok=True)
        _remove_empty_dirs(directory)
    return None


def _transfer(origin: Path, dest: Path, move: bool) -> None:
    """Put `origin`'s content at `dest`, leaving `origin` in place: a move deletes the
    originals only once the model is committed, so a failure part-way loses nothing."""
    dest.unlink(missing_ok=True)  # left by an earlier attempt
    if move and not origin.is_symlink():
        try:
            os.link(origin, dest)  # instant on the same filesystem
            return
        except OSError:
            pass  # another filesystem, or no hard links there: copy instead
    shutil.copy2(origin, dest)  # a symlinked file (1.x cache links) is copied in full


def _files_of(listed: Any, directory: Path) -> Sequence[str]:
    if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
        return sorted(path for path, _ in walk_files(directory))
    relative = []
    for name in listed:
        path = Path(name)
        if path.is_absolute():
            if not path.is_relative_to(directory):
                raise InvalidInput(f"file {name!r} lies outside {directory}")
            name = path.relative_to(directory).as_posix()
        if not is_download_metadata(check_relative_file(name)):
            relative.append(name)
    return sorted(set(relative))


def _remove_empty_dirs(directory: Path) -> None:
    for current in sorted(directory.rglob("*"), key=lambda p: -len(p.parts)):
        if current.is_dir() and not current.is_symlink() and not any(current.iterdir()):
            current.rmdir()
    if directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
