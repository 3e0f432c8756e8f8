"""The index re-derived from what is on disk: at open, when the index is missing or empty
(from `manifest.json`, times and metadata kept, and the model directories), and on request
(`DiskModelStore.rebuild_index`: the rows checked against the directories)."""

import logging
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs

from devon_adapters.index.backends import VaultIndex
from devon_adapters.index.records import Record
from devon_adapters.vault.manifest import (
    MANIFEST_NAME,
    placed_in_manifest,
    read_manifest,
    records_from_manifest,
)
from devon_adapters.vault.paths import VaultPaths, half_written_file, placed_folder, walk_files
from devon_adapters.vault.trees import valid_children
from devon_core.identifiers import LOCAL_SOURCE, validate_model_id, validate_source_name

log = logging.getLogger(__name__)

Key = tuple[str, str]
"""A model's (source, model id)."""


@attrs.frozen
class Restored:
    """What restoring an index at open did."""

    skipped: list[tuple[str, str]]
    """(model, reason) for each manifest entry left out."""
    changed: bool
    """Whether any model was restored or left out (the manifest is then written again)."""


def restore_index(paths: VaultPaths, index: VaultIndex) -> Restored:
    """Fill a just-created `index` (missing, emptied with `: > index.sqlite3`, or set aside):
    the models on disk are the truth, not an empty table."""
    manifest = read_manifest(paths.root / MANIFEST_NAME)
    placed = placed_in_manifest(manifest or {}, paths)
    found = found_outside(paths, placed.values())
    for key, folder in placed.items():
        found[key] = {path: stat.st_size for path, stat in walk_files(folder)}
    described, skipped = records_from_manifest(manifest or {}, found)
    with index.write() as db:
        index.put_many(db, list(described.values()))
        index.put_many(
            db,
            [
                rebuilt_record(paths, key, files, None)
                for key, files in found.items()
                if key not in described and key not in skipped
            ],
        )
    left_out = []
    for (source, model_id), reason in sorted(skipped.items()):
        log.warning("Not restoring %s/%s from %s: %s", source, model_id, MANIFEST_NAME, reason)
        left_out.append((f"{source}/{model_id}", reason))
    restored = len(index.model_keys())
    if restored or skipped:
        log.warning(
            "Rebuilt the vault index: %d models (%d described by %s)",
            restored,
            len(described),
            MANIFEST_NAME,
        )
    return Restored(left_out, bool(restored or skipped))


def rebuild_index(paths: VaultPaths, index: VaultIndex) -> None:
    """Re-derive `index` from the model directories on disk (the caller holds the vault lock).

    Models still on disk keep their recorded times and metadata; new ones are dated by
    their directory's modification time; rows whose directory is gone are dropped.

    The scan runs outside any transaction (other processes keep committing meanwhile);
    inside the write transaction, where no commit or removal can start or finish, every
    model whose scan disagrees with its row is looked at again, so a model committed or
    removed during the scan is neither dropped nor brought back."""
    found = found_outside(paths, placed_folders(paths, index).values())
    with index.write() as db:
        busy = {(op.source, op.model_id) for op in index.operations()}
        recorded = {(r.source, r.model_id): r for r in index.records()}
        fresh = []
        for key in sorted(set(recorded) | set(found)):
            if key in busy:
                continue
            old = recorded.get(key)
            files = found.get(key)
            if old is None or files is None or sorted(old.files) != sorted(files):
                files = _files_now(paths, key, old)  # it may have changed since the scan
            if files:
                fresh.append(rebuilt_record(paths, key, files, old))
            elif old is not None:
                index.delete(db, *key)
        index.put_many(db, fresh)


def placed_folders(paths: VaultPaths, index: VaultIndex) -> dict[Key, Path]:
    """The folder of each `local` model registered where a person placed it (few)."""
    return {
        (r.source, r.model_id): paths.root / folder
        for r in index.records(LOCAL_SOURCE)
        if (folder := placed_folder(r.source, r.metadata))
    }


def rebuilt_record(
    paths: VaultPaths, key: Key, files: dict[str, int], old: Record | None
) -> Record:
    """The row of a model found on disk: its recorded times and metadata (`old`) kept."""
    source, model_id = key
    directory = paths.folder_of(source, model_id, old.metadata if old else {})
    mtime = datetime.fromtimestamp(directory.stat().st_mtime, UTC)
    return Record(
        source=source,
        model_id=model_id,
        size_bytes=sum(files.values()),
        downloaded_at=old.downloaded_at if old else mtime,
        last_used=old.last_used if old else None,
        files=tuple(sorted(files)),
        metadata=old.metadata if old else {},
    )


def found_outside(paths: VaultPaths, placed: Iterable[Path]) -> dict[Key, dict[str, int]]:
    """`models_on_disk`, less what lies in the folders of `local` models registered where
    they were placed (`<root>/team/model-a` is not source `team`'s model)."""
    folders = tuple(placed)
    return {
        key: files
        for key, files in models_on_disk(paths)
        if not any(paths.model_dir(*key).is_relative_to(f) for f in folders)
    }


def models_on_disk(paths: VaultPaths) -> Iterator[tuple[Key, dict[str, int]]]:
    """Every model directory: `<root>/<source>/<owner>/<name>` or `<root>/<source>/<name>`
    (a directory holding files of its own is a model, else an owner of models). One
    still being written (a `.part` file) is left out until it is complete."""
    for source_dir in valid_children(paths.root, validate_source_name):
        for first in valid_children(source_dir, validate_model_id):
            if any(entry.is_file(follow_symlinks=False) for entry in os.scandir(first)):
                candidates = [first]
            else:
                candidates = list(valid_children(first, validate_model_id))
            for directory in candidates:
                files = {path: stat.st_size for path, stat in walk_files(directory)}
                if not files:
                    continue
                unfinished = half_written_file(directory, files)
                if unfinished:
                    log.warning("Not indexing %s: %s is still being written", directory, unfinished)
                    continue
                model_id = directory.relative_to(source_dir).as_posix()
                yield (source_dir.name, model_id), files


def _files_now(paths: VaultPaths, key: Key, old: Record | None) -> dict[str, int] | None:
    directory = paths.folder_of(*key, old.metadata if old else {})
    if directory.is_symlink() or not directory.is_dir():
        return None
    return {path: stat.st_size for path, stat in walk_files(directory)} or None
