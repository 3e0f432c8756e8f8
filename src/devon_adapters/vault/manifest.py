"""`<storage>/manifest.json`: the vault's models in DEVON 1.2's form, for readers of the
folder itself (KITT's Quick Test reads it; a vault copied without `.devon/` is rebuilt from it).

One JSON object keyed `"<source>::<model_id>"`; each value holds `source`, `model_id`,
`path` (absolute), `files`, `size_bytes`, `downloaded_at`, `last_used` and `metadata`
(always with `format`, a list), one model a line, in (source, model_id) order. The index is
the truth: every new version of the file is written whole to a temporary file, flushed to
disk and renamed over the old one, so a reader sees the old or the new file, never a torn
one. What it reflects is kept beside the index (`.devon/manifest-stamp.json`: the index's
generation and change counter, and the file's size, time and inode): when the file is still
the one that stamp describes, only the lines of the models changed since are rendered and
spliced into it (ADR 0211), and when nothing changed it is not written at all.

When it is regenerated (ADR 0150):
- after every commit and removal, before the call returns (`refresh`); threads of a process
  that change the vault at once share one regeneration;
- within `DELAY_SECONDS` (or 4 times the last regeneration's duration, when that is longer)
  after a `last_used` change (`refresh_soon`), and at the latest when the process exits or
  closes the store;
- once at the end of a group of changes (`grouped`, e.g. a clean removing many models).

Every regeneration reads the index and writes the file under one vault-wide lock
(`.devon/locks/manifest.lock`), after the change it reflects was committed: so the last
regeneration to run reflects every change committed before it, whichever process made it.
"""

import atexit
import contextlib
import json
import logging
import mmap
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
from filelock import FileLock

from devon_adapters.index.records import Record, time_to_text
from devon_adapters.model_files.names import formats_of
from devon_adapters.vault.paths import FILE_MODE, VaultPaths, placed_folder, placed_folder_in_text
from devon_core.errors import InvalidInput
from devon_core.identifiers import validate_model_id, validate_source_name

if TYPE_CHECKING:
    from devon_adapters.index.backends import Lock, VaultIndex
    from devon_adapters.index.records import Changed, StoredRow

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_LOCK = "manifest.lock"
DELAY_SECONDS = 2.0
"""How long after a `last_used` change the manifest is regenerated at the latest (plus the
time the regeneration takes), in a vault small enough to regenerate it quickly."""
DELAY_PER_REGENERATION = 4
"""In a large vault the delay is this many times the last regeneration's duration, so that
`last_used` changes never spend more than about a fifth of a core on the manifest."""


def manifest_key(source: str, model_id: str) -> str:
    return f"{source}::{model_id}"


def manifest_entry(
    root: str,
    source: str,
    model_id: str,
    size_bytes: int,
    downloaded_at: datetime,
    last_used: datetime | None,
    files: tuple[str, ...],
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """One value of the manifest. A model recorded without a `format` (a rebuilt index)
    gets the formats of its files' extensions."""
    if not isinstance(metadata.get("format"), list) or not metadata["format"]:
        metadata = {**metadata, "format": list(formats_of(files))}
    placed = placed_folder(source, metadata)
    relative = placed.replace("/", os.sep) if placed else f"{source}{os.sep}{model_id}"
    return {
        "source": source,
        "model_id": model_id,
        "path": f"{root}{os.sep}{relative}",
        "files": list(files),
        "size_bytes": size_bytes,
        "downloaded_at": time_to_text(downloaded_at),
        "last_used": time_to_text(last_used) if last_used else None,
        "metadata": metadata,
    }


def render_manifest(root: str, index: "VaultIndex") -> bytes:
    """The manifest of every model `index` holds, as bytes (one read of the index), one
    model a line (see `ManifestLines`)."""
    return ManifestLines(root).render(index.stored_rows())


class ManifestLines:
    """The manifest's text for stored rows, one line per model.

    Equal, once parsed, to `manifest_entry` of each model, but built from the stored JSON
    text of `files` and `metadata` without decoding it: ids and source names are validated
    (nothing in them needs escaping), times are stored as the ISO text the manifest shows.
    Only metadata without a `format` (or recording a placed folder) is decoded."""

    def __init__(self, root: str) -> None:
        self._root = root
        self._prefix = json.dumps(f"{root}{os.sep}")[:-1]  # the opening quote, escaped root
        self._sep = json.dumps(os.sep)[1:-1]

    def render(self, rows: "Iterable[StoredRow]") -> bytes:
        lines = [self.line(row) for row in rows]
        return ("{\n" + ",\n".join(lines) + ("\n}\n" if lines else "}\n")).encode("utf-8")

    def line(self, row: "StoredRow") -> str:
        source, model_id, size, downloaded_at, last_used, files, metadata = row
        if _FORMAT_SET not in metadata or _FORMAT_EMPTY in metadata:
            metadata = _with_formats(files, metadata)
        used = f'"{last_used}"' if last_used else "null"
        placed = placed_folder_in_text(source, metadata)
        if placed:
            path = json.dumps(self._root + os.sep + placed.replace("/", os.sep))
        else:
            path = f'{self._prefix}{source}{self._sep}{model_id}"'
        return (
            f'"{source}::{model_id}": {{"source": "{source}", "model_id": "{model_id}", '
            f'"path": {path}, "files": {files}, '
            f'"size_bytes": {size}, "downloaded_at": "{downloaded_at}", "last_used": {used}, '
            f'"metadata": {metadata}}}'
        )


# How `json.dumps(..., sort_keys=True)` (the index's form) writes a `format` list.
_FORMAT_SET = '"format": ['
_FORMAT_EMPTY = '"format": []'


def _with_formats(files: str, metadata: str) -> str:
    decoded = json.loads(metadata)
    if not isinstance(decoded.get("format"), list) or not decoded["format"]:
        decoded["format"] = list(formats_of(json.loads(files)))
    return json.dumps(decoded, sort_keys=True)


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at `path` as a dict, or None when there is none or it cannot be read
    (a warning says why)."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("Cannot read %s (%s): ignored", path, error)
        return None
    if not isinstance(data, dict):
        log.warning("%s is not a JSON object: ignored", path)
        return None
    return data


def identify(key: str, entry: Any) -> tuple[str, str]:
    """The (source, model_id) of a manifest (or DEVON 1.x index) entry: its own fields,
    else its `"<source>::<model_id>"` key; InvalidInput if they are not valid."""
    if not isinstance(entry, dict):
        raise InvalidInput("entry is not a JSON object")
    key_source, _, key_id = key.partition("::")
    source = validate_source_name(entry.get("source") or key_source)
    return source, validate_model_id(entry.get("model_id") or key_id)


def parse_time(value: Any) -> datetime | None:
    """A time as DEVON wrote it: ISO 8601, aware (this DEVON) or naive local time (1.x)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC)


def placed_in_manifest(manifest: dict[str, Any], paths: VaultPaths) -> dict[tuple[str, str], Path]:
    """The folder of each `local` model the manifest describes as registered where a person
    placed it (`placed_folder`), if that folder is still there."""
    found = {}
    for key, entry in manifest.items():
        try:
            source, model_id = identify(key, entry)
        except InvalidInput:
            continue
        metadata = entry.get("metadata")
        folder = placed_folder(source, metadata) if isinstance(metadata, dict) else None
        if folder and (paths.root / folder).is_dir() and not (paths.root / folder).is_symlink():
            found[source, model_id] = paths.root / folder
    return found


def records_from_manifest(
    manifest: dict[str, Any], found: dict[tuple[str, str], dict[str, int]]
) -> tuple[dict[tuple[str, str], Record], dict[tuple[str, str], str]]:
    """Index records for the entries of `manifest` whose model is on disk, given `found`
    (each model directory on disk: its files and sizes). Paths are not taken from the
    manifest: a model's directory is `<root>/<source>/<model_id>` wherever the vault is now.

    Returns the records, and why each other entry was left out (its directory or files are
    missing); entries that cannot even be identified are logged and ignored."""
    records: dict[tuple[str, str], Record] = {}
    skipped: dict[tuple[str, str], str] = {}
    for key, entry in manifest.items():
        try:
            identity = identify(key, entry)
        except InvalidInput as error:
            log.warning("Ignoring manifest entry %r: %s", key, error)
            continue
        on_disk = found.get(identity)
        if on_disk is None:
            skipped[identity] = "its directory is missing or holds no files"
            continue
        listed = entry.get("files")
        names = [f for f in listed if isinstance(f, str)] if isinstance(listed, list) else []
        missing = sorted(f for f in names if f not in on_disk)
        if missing:
            skipped[identity] = f"files missing: {', '.join(missing)}"
            continue
        metadata = entry.get("metadata")
        records[identity] = Record(
            source=identity[0],
            model_id=identity[1],
            size_bytes=sum(on_disk.values()),
            downloaded_at=parse_time(entry.get("downloaded_at")) or datetime.now(UTC),
            last_used=parse_time(entry.get("last_used")),
            files=tuple(sorted(on_disk)),
            metadata=metadata if isinstance(metadata, dict) else {},
        )
    return records, skipped


Buffer = bytes | memoryview


@attrs.frozen
class FileSpan:
    """Bytes `start`..`end` of the open file `fd`, whose content `view` maps: copied by the
    kernel where it can (`copy_file_range`), else written from the mapping."""

    fd: int
    start: int
    end: int
    view: memoryview


def write_atomically(
    path: Path, data: Buffer | Sequence[Buffer | FileSpan], temporary_dir: Path
) -> os.stat_result:
    """Replace `path` with `data` (or its parts, one after the other): written beside it
    (same filesystem), flushed to disk, renamed over it, and the rename flushed too.
    Returns what the new file's `stat` says."""
    temporary = temporary_dir / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    parts = [data] if isinstance(data, bytes | memoryview) else data
    fd = os.open(temporary, flags, FILE_MODE)
    try:
        try:
            for part in parts:
                if isinstance(part, FileSpan):
                    _copy_span(part, fd)
                else:
                    _write_all(fd, part)
            os.fsync(fd)
            written = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return written


def _write_all(fd: int, data: Buffer) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _copy_span(span: FileSpan, fd: int) -> None:
    offset = span.start
    if hasattr(os, "copy_file_range"):  # Linux: no page of it passes through this process
        with contextlib.suppress(OSError):  # another filesystem, an old kernel: write it
            while offset < span.end:
                copied = os.copy_file_range(span.fd, fd, span.end - offset, offset)
                if copied == 0:
                    break
                offset += copied
    _write_all(fd, span.view[offset - span.start : span.end - span.start])


STAMP_NAME = "manifest-stamp.json"
"""In `.devon/`: what the manifest reflects, and which file that was (see `Stamp`)."""
PATCH_LIMIT = 512
"""At most this many changed models are spliced into the file; more, and it is rendered
whole from the index (one read of every row) instead of one look-up per changed model."""


@attrs.frozen
class Stamp:
    """The index state a manifest file reflects (the index's generation and change counter,
    the vault's root its paths start with) and that file's identity (size, modification
    time, inode): a file with another identity was written by someone else."""

    root: str
    generation: str
    counter: int
    size: int
    mtime_ns: int
    inode: int

    def describes(self, stat: os.stat_result, root: str) -> bool:
        return (self.root, self.size, self.mtime_ns, self.inode) == (
            root,
            stat.st_size,
            stat.st_mtime_ns,
            stat.st_ino,
        )


def read_stamp(path: Path) -> Stamp | None:
    try:
        data = json.loads(path.read_bytes())
        return Stamp(**data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def keep_stamp(path: Path, stamp: Stamp) -> None:
    """Write `stamp` to `path` (renamed into place: never torn). Losing it costs one
    regeneration of the whole file, so it is not flushed to disk."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        temporary.write_text(json.dumps(attrs.asdict(stamp)))
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        log.debug("Could not keep %s: %s", path, error)


_OPEN, _CLOSE, _EMPTY = b"{\n", b"\n}\n", b"{\n}\n"
_LINE_SEP = b",\n"
_KEY_END = b'": {'

Part = tuple[int, int] | bytes
"""A piece of a new manifest: a span of the old file's bytes, or new bytes."""


def splice(
    old: Any, changed: "Sequence[Changed]", lines: ManifestLines
) -> tuple[bool, list[Part]] | None:
    """The pieces of the manifest `old` (bytes, or an mmap of the file) with the lines of
    the models in `changed` replaced, added or removed; None when `old` is not shaped as
    this module writes it. Each changed model is found by a binary search over the lines
    (the file is sorted by (source, model_id), as the index returns rows). The flag is
    False when nothing differs: every line already reads as its row renders."""
    size = len(old)
    if size < len(_EMPTY) or old[:2] != _OPEN or old[size - 3 :] != _CLOSE:
        return None
    start, end = 2, size - 2  # the lines, each ending in "\n" (all but the last in ",\n")
    if size == len(_EMPTY):
        end = start
    pieces: list[Part] = []
    cursor, edited = start, False
    for source, model_id, row in sorted(changed, key=lambda c: (c[0], c[1])):
        found = _first_line_at_or_after(old, (source, model_id), start, end)
        if found is None:
            return None
        at, stop, key = found
        new = lines.line(row).encode("utf-8") if row is not None else None
        present = key == (source, model_id)
        if present and new is not None and old[at : _content_end(old, stop)] == new:
            continue  # already as it renders
        if not present and new is None:
            continue  # removed, and not listed
        if at > cursor:  # the untouched lines before, less the ",\n" after the last of them
            pieces.append((cursor, at - 2 if at < end else end - 1))
        if new is not None:
            pieces.append(new)
        cursor = stop + 1 if present else at
        edited = True
    if cursor < end:
        pieces.append((cursor, end - 1))
    return edited, pieces


def _content_end(old: Any, stop: int) -> int:
    """Where the line ending at the newline `stop` ends, less its separating comma."""
    return stop - 1 if old[stop - 1 : stop] == b"," else stop


def _first_line_at_or_after(
    old: Any, key: tuple[str, str], start: int, end: int
) -> tuple[int, int, tuple[str, str] | None] | None:
    """(its start, the offset of its newline, its key) of the first line whose key is not
    below `key`; (end, end, None) when there is none; None on a line not shaped as written."""
    low, high = start, end
    while low < high:
        middle = (low + high) // 2
        line_start = max(old.rfind(b"\n", start, middle) + 1, start)
        stop = old.find(b"\n", middle, end)
        if stop < 0:
            return None
        line_key = _key_of(old, line_start, stop)
        if line_key is None:
            return None
        if line_key < key:
            low = stop + 1
        else:
            high = line_start
    if low >= end:
        return end, end, None
    stop = old.find(b"\n", low, end)
    line_key = _key_of(old, low, stop) if stop >= 0 else None
    return (low, stop, line_key) if line_key is not None else None


def _key_of(old: Any, start: int, stop: int) -> tuple[str, str] | None:
    if old[start : start + 1] != b'"':
        return None
    key_end = old.find(_KEY_END, start, stop)
    if key_end < 0:
        return None
    source, found, model_id = old[start + 1 : key_end].decode("utf-8", "replace").partition("::")
    return (source, model_id) if found else None


def write_pieces(
    path: Path, old: Any, old_fd: int, pieces: Sequence[Part], temporary_dir: Path
) -> os.stat_result:
    """The new manifest made of `pieces` (spans of `old`, the file open as `old_fd`, and new
    lines), written with `write_atomically`."""
    view = memoryview(old)
    parts = spliced_parts(view, pieces, old_fd)
    try:
        return write_atomically(path, parts, temporary_dir)
    finally:
        parts.clear()  # the spans of an mmap must be let go before it closes
        view.release()


def spliced_parts(
    old: memoryview, pieces: Sequence[Part], old_fd: int | None = None
) -> list[Buffer | FileSpan]:
    """The bytes of the manifest `splice` describes, in order, separated as written here:
    spans of the old file as `FileSpan`s when its descriptor is given, else as views."""
    parts: list[Buffer | FileSpan] = [_OPEN]
    for number, piece in enumerate(pieces):
        if number:
            parts.append(_LINE_SEP)
        if isinstance(piece, bytes):
            parts.append(piece)
        elif old_fd is None:
            parts.append(old[piece[0] : piece[1]])
        else:
            parts.append(FileSpan(old_fd, *piece, old[piece[0] : piece[1]]))
    parts.append(_CLOSE if pieces else b"}\n")
    return parts


class ManifestWriter:
    """Keeps one vault's `manifest.json` derived from its index. Thread-safe; several
    processes may each have one on the same vault."""

    def __init__(self, paths: VaultPaths, index: "VaultIndex", lock: "Lock | None" = None) -> None:
        """`lock` keeps regenerations one at a time across processes (and hosts): the
        index backend's lock named MANIFEST_LOCK; a lock file in the vault by default."""
        self.path = paths.root / MANIFEST_NAME
        self._paths = paths
        self._root = str(paths.root)
        self._index = index
        self._lock = lock or FileLock(
            paths.locks / MANIFEST_LOCK, mode=FILE_MODE, is_singleton=True
        )
        self._counts = threading.Lock()
        self._writing = threading.Lock()
        self._changes = 0
        """Changes this process made to the index (each counted once it was committed)."""
        self._covered = 0
        """Changes reflected by the last regeneration this process finished."""
        self._timer: threading.Timer | None = None
        self._timer_pid = os.getpid()
        self._groups = threading.local()
        self.last_duration = 0.0
        """Seconds the last regeneration took (reading the index and writing the file)."""
        self.last_written = ""
        """What the last regeneration did: "unchanged", "spliced" or "rendered"."""
        self._lines = ManifestLines(self._root)

    def refresh(self) -> None:
        """Bring the manifest up to date with every change committed so far; returns once it
        is (or, inside `grouped`, leaves it to the end of the group)."""
        if getattr(self._groups, "depth", 0):
            self._groups.pending = True
            return
        with self._counts:
            self._changes += 1
            ticket = self._changes
        self._regenerate_covering(ticket)

    def refresh_soon(self) -> None:
        """Note a change that may wait: the manifest reflects it within `DELAY_SECONDS` (or
        `DELAY_PER_REGENERATION` times the last regeneration's duration)."""
        with self._counts:
            self._changes += 1
            if self._timer is not None and self._timer_pid != os.getpid():
                self._timer = None  # a forked child: the parent's timer thread is not here
            if self._timer is None:
                delay = max(DELAY_SECONDS, DELAY_PER_REGENERATION * self.last_duration)
                self._timer = threading.Timer(delay, self._flush_logging_failures)
                self._timer.daemon = True
                self._timer_pid = os.getpid()
                self._timer.start()
                _pending.add(self)

    def _flush_logging_failures(self) -> None:
        try:
            self.flush()
        except Exception as error:  # in a timer thread: nobody to raise to
            log.warning("Could not update %s: %s (the next change retries)", self.path, error)

    def flush(self) -> None:
        """Regenerate now if a change is not reflected yet."""
        with self._counts:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            ticket = self._changes
            _pending.discard(self)
        self._regenerate_covering(ticket)

    def ensure(self) -> None:
        """Bring the manifest up to date at open: written when there is none (a new vault),
        when its paths are not where the vault is now (moved, or mounted elsewhere, with its
        index: KITT runs models from those paths), or when the index changed since it was
        written (by a process that crashed before writing it); left alone otherwise, found
        so without taking the manifest's lock (every command and worker opens the vault)."""
        if not self._current():
            self.refresh()

    def _current(self) -> bool:
        """Whether the file is the one the stamp describes and the index has not changed
        since (its change stamp is the stamp's)."""
        stamp = read_stamp(self._paths.state / STAMP_NAME)
        try:
            current = os.stat(self.path)
        except OSError:
            return False
        return (
            stamp is not None
            and stamp.describes(current, self._root)
            and self._index.change_stamp() == f"{stamp.generation}:{stamp.counter}"
        )

    @contextmanager
    def grouped(self) -> Iterator[None]:
        """Changes made inside (by this thread) are reflected once, when the outermost
        group ends."""
        depth = getattr(self._groups, "depth", 0)
        self._groups.depth = depth + 1
        try:
            yield
        finally:
            self._groups.depth = depth
            if depth == 0 and getattr(self._groups, "pending", False):
                self._groups.pending = False
                try:
                    self.refresh()
                except OSError as error:  # the changes stand; the next one writes it again
                    log.warning("Could not update %s: %s", self.path, error)

    def _regenerate_covering(self, ticket: int) -> None:
        with self._writing:
            if self._covered >= ticket:
                return  # a regeneration that started after this change has reflected it
            with self._counts:
                covering = self._changes
            started = time.perf_counter()
            with self._lock:
                self.last_written = self._bring_up_to_date()
            self.last_duration = time.perf_counter() - started
            self._covered = covering

    def _bring_up_to_date(self) -> str:
        """Make the file reflect the index as it is now: "unchanged" (nothing to write),
        "spliced" (the changed models' lines replaced in a copy of it) or "rendered" (the
        whole file from every row). Called under the manifest lock."""
        stamp_path = self._paths.state / STAMP_NAME
        stamp = read_stamp(stamp_path)
        try:
            current: os.stat_result | None = os.stat(self.path)
        except OSError:
            current = None
        if stamp is not None and current is not None and stamp.describes(current, self._root):
            generation, counter, changed = self._index.changed_since(stamp.counter, PATCH_LIMIT)
            if generation == stamp.generation and changed is not None:
                if not changed:
                    return "unchanged"
                written = self._splice(changed)
                if written is not None:
                    keep_stamp(stamp_path, self._stamp(generation, counter, written[1]))
                    return written[0]
        generation, counter, rows = self._index.stamped_rows()
        data = self._lines.render(rows)
        if current is not None and current.st_size == len(data) and _holds(self.path, data):
            keep_stamp(stamp_path, self._stamp(generation, counter, current))
            return "unchanged"
        written_stat = write_atomically(self.path, data, self._paths.state)
        keep_stamp(stamp_path, self._stamp(generation, counter, written_stat))
        return "rendered"

    def _splice(self, changed: "Sequence[Changed]") -> tuple[str, os.stat_result] | None:
        """The file with `changed` spliced in, written; None when it is not as written here."""
        try:
            with (
                open(self.path, "rb") as file,
                mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as old,
            ):
                spliced = splice(old, changed, self._lines)
                if spliced is None:
                    return None
                edited, pieces = spliced
                if not edited:
                    return "unchanged", os.fstat(file.fileno())
                written = write_pieces(self.path, old, file.fileno(), pieces, self._paths.state)
                return "spliced", written
        except (ValueError, FileNotFoundError, IsADirectoryError):
            return None  # empty, gone or not a file: rendered whole instead

    def _stamp(self, generation: str, counter: int, stat: os.stat_result) -> Stamp:
        return Stamp(self._root, generation, counter, stat.st_size, stat.st_mtime_ns, stat.st_ino)


def _holds(path: Path, data: bytes) -> bool:
    """Whether the file at `path` holds exactly `data`."""
    try:
        with open(path, "rb") as file:
            return file.read(len(data) + 1) == data
    except OSError:
        return False


_pending: set[ManifestWriter] = set()
"""Writers with a `last_used` change not reflected yet: flushed when the process exits."""


@atexit.register
def _flush_pending() -> None:
    for writer in list(_pending):
        try:
            writer.flush()
        except Exception:  # exiting: say it and carry on with the others
            log.exception("Could not bring %s up to date", writer.path)
