"""Import of a vault written by DEVON 1.x: `index.json` beside a `models/` folder.

1.x keyed its index `"<source>::<model_id>"`, kept files at `models/<source>/<model_id>/` and
wrote naive local timestamps (`datetime.now().isoformat()`), read here as local time.
"""

import json
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from devon_adapters.disk_store import DiskModelStore
from devon_adapters.paths import check_relative_file, is_download_metadata, walk_files
from devon_core.errors import DevonError, InvalidInput
from devon_core.identifiers import validate_model_id, validate_source_name

LEGACY_INDEX = "index.json"
LEGACY_MODELS = "models"


@attrs.frozen
class ImportReport:
    """What an import did, by `<source>/<model_id>` (the key itself if it was unreadable)."""

    imported: tuple[str, ...] = ()
    already_present: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    """(model, reason) for each entry left out."""


def import_legacy_vault(
    store: DiskModelStore, legacy_root: Path, move: bool = False
) -> ImportReport:
    """Copy (or, with `move`, move) every model of a 1.x vault into `store` and record it.
    A move removes a model's legacy files only once it is committed.

    Entries whose files are missing are skipped and reported. Running it again imports
    nothing twice: models already in the vault are left as they are."""
    entries = _read_index(Path(legacy_root) / LEGACY_INDEX)
    imported: list[str] = []
    present: list[str] = []
    skipped: list[tuple[str, str]] = []
    for key, entry in sorted(entries.items()):
        try:
            source, model_id = _identify(key, entry)
        except InvalidInput as error:
            skipped.append((key, str(error)))
            continue
        name = f"{source}/{model_id}"
        with store.lock(source, model_id):
            if store.get(source, model_id) is not None:
                present.append(name)
                continue
            directory = _directory_of(Path(legacy_root), entry, source, model_id)
            try:
                problem = _import_one(store, directory, source, model_id, entry, move)
            except (DevonError, OSError) as error:
                problem = str(error)
        if problem:
            skipped.append((name, problem))
        else:
            imported.append(name)
    return ImportReport(tuple(imported), tuple(present), tuple(skipped))


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


def _identify(key: str, entry: Any) -> tuple[str, str]:
    if not isinstance(entry, dict):
        raise InvalidInput("entry is not a JSON object")
    key_source, _, key_id = key.partition("::")
    source = validate_source_name(entry.get("source") or key_source)
    return source, validate_model_id(entry.get("model_id") or key_id)


def _directory_of(root: Path, entry: dict[str, Any], source: str, model_id: str) -> Path:
    """The entry's recorded `path` when it lies inside the legacy vault (1.x let the models
    folder be named anything), else `models/<source>/<model_id>`."""
    recorded = entry.get("path")
    if isinstance(recorded, str) and recorded:
        path = Path(recorded)
        if path.is_absolute() and path.resolve().is_relative_to(root.resolve()):
            return path
    return root / LEGACY_MODELS / source / model_id


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
    downloaded_at = _legacy_time(entry.get("downloaded_at")) or datetime.now(UTC)
    store.commit(staging, files, downloaded_at, metadata or {})
    last_used = _legacy_time(entry.get("last_used"))
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


def _legacy_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC)  # naive values are taken as local time, as 1.x wrote them


def _remove_empty_dirs(directory: Path) -> None:
    for current in sorted(directory.rglob("*"), key=lambda p: -len(p.parts)):
        if current.is_dir() and not current.is_symlink() and not any(current.iterdir()):
            current.rmdir()
    if directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
