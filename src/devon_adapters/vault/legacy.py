"""Import of a vault written by DEVON 1.x.

Two forms are read:
- DEVON 1.0/1.1: `index.json` beside a `models/` folder, files at `models/<source>/<model_id>/`;
- DEVON 1.2: `manifest.json` inside the models folder itself (the folder is self-contained;
  the path given may be that folder or its parent holding `models/`), files at each entry's
  `path` when it still lies inside the folder, else `<models>/<source>/<model_id>/`.

Both key their entries `"<source>::<model_id>"` and wrote naive local timestamps
(`datetime.now().isoformat()`), read here as local time.
"""

import functools
import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import Any

from devon_adapters.index.records import Record
from devon_adapters.vault.batch_commit import Arrival, commit_batch
from devon_adapters.vault.manifest import MANIFEST_NAME, identify, parse_time
from devon_adapters.vault.paths import (
    FILE_MODE,
    check_relative_file,
    is_download_metadata,
    walk_files,
)
from devon_adapters.vault.store import DiskModelStore
from devon_core.errors import DevonError, InvalidInput
from devon_core.results import ImportReport

LEGACY_INDEX = "index.json"
LEGACY_MODELS = "models"


def import_legacy_vault(
    store: DiskModelStore, legacy_root: Path, move: bool = False
) -> ImportReport:
    """Copy (or, with `move`, move) every model of a 1.x vault into `store` and record it.
    A move removes a model's legacy files only once it is committed.

    Every model is staged first, then all are committed together (one journal, one
    transaction recording them, one manifest write: `batch_commit`). Entries whose files
    are missing are skipped and reported. Running it again imports nothing twice: models
    already in the vault are left as they are."""
    index_path, models_dir = _locate(Path(legacy_root))
    entries = _read_index(index_path)
    listed = set(store.index.model_keys())
    present: list[str] = []
    skipped: list[tuple[str, str]] = []
    arrivals: list[Arrival] = []
    found: dict[str, os.stat_result] = {}
    """The `stat` of each file to copy, taken when its entry was checked (the copy's size
    and times: no second `stat` of it)."""

    def each_arrival() -> Iterator[Arrival]:
        """Each entry to bring in, checked as the batch asks for it: the checks (a few
        `stat`s and the parsing of an entry) run while earlier models are being copied."""
        seen: set[tuple[str, str]] = set()
        for key, entry in sorted(entries.items()):
            try:
                identity = identify(key, entry)
            except InvalidInput as error:
                skipped.append((key, str(error)))
                continue
            name = "/".join(identity)
            if identity in listed:
                present.append(name)
                continue
            if identity in seen:
                skipped.append((name, f"listed twice in {index_path.name} (as {key!r} too)"))
                continue
            seen.add(identity)
            directory = _directory_of(models_dir, entry, *identity)
            try:
                arrival = _arrival(directory, identity, entry, found)
            except (DevonError, OSError) as error:
                skipped.append((name, str(error)))
                continue
            arrivals.append(arrival)
            yield arrival

    result = commit_batch(
        store, each_arrival(), lambda origin, dest: _transfer(origin, dest, move, found.get(origin))
    )
    skipped += [("/".join(identity), why) for identity, why in result.refused]
    if move:
        by_key = {(a.record.source, a.record.model_id): a for a in arrivals}
        for identity in result.committed:
            _remove_moved(by_key[identity])
    return ImportReport(
        tuple("/".join(identity) for identity in result.committed),
        tuple(present),
        tuple(sorted(skipped)),
    )


def _arrival(
    directory: str, identity: tuple[str, str], entry: dict[str, Any], found: dict[str, Any]
) -> Arrival:
    """What to bring in for one entry; InvalidInput saying why not. Each file's `stat` goes
    in `found`, by path. Strings, not Paths, for the paths of this per-model step: pathlib's
    parsing was most of an import's own time. The directory itself is looked at only when
    something is wrong (to say so): one system call fewer per model."""
    try:
        files = _files_of(entry.get("files"), directory)
    except InvalidInput:
        _check_directory(directory)
        raise
    sizes = {}
    for relative in files:
        path = f"{directory}{os.sep}{relative}"
        stat = _stat_of(path)
        sizes[relative] = None if stat is None else stat.st_size
        if stat is not None:
            found[path] = stat
    missing = [f for f, size in sizes.items() if size is None]
    if missing or not files:
        _check_directory(directory)
        raise InvalidInput(f"files missing from {directory}: {', '.join(missing) or 'all'}")
    metadata = entry.get("metadata")
    record = Record(
        source=identity[0],
        model_id=identity[1],
        size_bytes=sum(size or 0 for size in sizes.values()),
        downloaded_at=parse_time(entry.get("downloaded_at")) or datetime.now(UTC),
        last_used=parse_time(entry.get("last_used")),
        files=tuple(files),
        # What CommitMetadata.as_recorded(metadata).as_dict() gives: the keys as they are.
        metadata=dict(metadata) if isinstance(metadata, dict) else {},
    )
    return Arrival(record, directory)


def _check_directory(directory: str) -> None:
    if not os.path.isdir(directory):
        raise InvalidInput(f"its directory {directory} is missing")


def _stat_of(path: str) -> os.stat_result | None:
    """The `stat` of the regular file at `path` (through a link: 1.x linked files from its
    cache, and they are copied in full), or None when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat if S_ISREG(stat.st_mode) else None


def _remove_moved(arrival: Arrival) -> None:
    origin = Path(arrival.origin)
    for relative in arrival.record.files:
        (origin / relative).unlink(missing_ok=True)
    _remove_empty_dirs(origin)


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


def _directory_of(models: Path, entry: dict[str, Any], source: str, model_id: str) -> str:
    """The entry's recorded `path` when it lies inside the legacy vault (1.x let the models
    folder be named anything), else `<models>/<source>/<model_id>` (a vault copied from
    elsewhere records paths of the machine it came from). Only read from: the path is
    normalised, not resolved (a stat per component, per model, was a tenth of an import)."""
    recorded = entry.get("path")
    if isinstance(recorded, str) and recorded and os.path.isabs(recorded):
        path = os.path.normpath(recorded)
        if any(path == vault or path.startswith(inside) for vault, inside in _vault_paths(models)):
            return path
    return f"{models}{os.sep}{source}{os.sep}{model_id}"


@functools.lru_cache(maxsize=8)
def _vault_paths(models: Path) -> tuple[tuple[str, str], ...]:
    """The legacy vault's folder as given and with its links resolved, each beside the
    prefix of the paths inside it."""
    vault = models.parent if models.name == LEGACY_MODELS else models
    return tuple(
        (folder, folder.rstrip(os.sep) + os.sep) for folder in (str(vault), os.path.realpath(vault))
    )


def _transfer(origin: str, dest: str, move: bool, stat: os.stat_result | None) -> None:
    """Put `origin`'s content at `dest` (a new path), leaving `origin` in place: a move
    deletes the originals only once the model is committed, so a failure part-way loses
    nothing."""
    if move and not os.path.islink(origin):
        try:
            os.link(origin, dest)  # instant on the same filesystem
            return
        except OSError:
            pass  # another filesystem, or no hard links there: copy instead
    _copy(origin, dest, stat)  # a symlinked file (1.x cache links) is copied in full


def _copy(origin: str, dest: str, stat: os.stat_result | None = None) -> None:
    """A copy of `origin`'s bytes and modification time at the new path `dest`, private to
    its owner: what `shutil.copy2` keeps that matters here, in half its system calls.
    `stat`: origin's, when it was just taken (its size, what the record says, and times)."""
    source = os.open(origin, os.O_RDONLY)
    try:
        stat = stat or os.fstat(source)
        target = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            remaining = stat.st_size
            while remaining > 0:  # by the kernel, file to file
                sent = os.sendfile(target, source, None, min(remaining, _CHUNK))
                if sent == 0:
                    break  # it shrank meanwhile: what is there is copied
                remaining -= sent
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        finally:
            os.close(target)
    finally:
        os.close(source)


_CHUNK = 1 << 30


def _files_of(listed: Any, directory: str) -> Sequence[str]:
    if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
        return sorted(path for path, _ in walk_files(Path(directory)))
    relative = []
    for name in listed:
        if os.path.isabs(name):  # rare: parsed as a Path only then
            path = Path(name)
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
