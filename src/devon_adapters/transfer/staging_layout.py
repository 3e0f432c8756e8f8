"""Where a download keeps its files in the staging directory `dest`:

- `<path>`: a file that is complete (and verified when it has a sha256);
- `.cache/devon/partial/<path>.part`: bytes of a file still arriving, kept across failures;
- `.cache/devon/partial/<path>.part.json`: which revision, size and sha256 those bytes are a
  prefix of, written before the first byte; a later attempt resumes the `.part` only while
  this still describes the file wanted now, and starts it anew otherwise (a `.part` without
  one is never resumed: its bytes could belong to any revision). A file fetched as
  concurrent ranges (ADR 0120) has a `.part` of its full size and a `spans` list in this
  record: the byte spans `[start, end)` known to be on disk, rewritten (atomically) as
  ranges land; the bytes outside them mean nothing;
- `.cache/devon/done/<path>.json`: which revision and sha256 a complete file is, so that a
  later attempt reuses it only while it is still the wanted one.

`.cache/` is download state, never a model file: the vault commits only the model's files.
"""

import errno
import json
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import attrs

from devon_adapters.transfer.byte_ranges import Span, contiguous_prefix, covered, merge
from devon_core.errors import DownloadFailed
from devon_core.fleet import LandedFile
from devon_core.models import RemoteFile
from devon_core.results import SOURCE_STATE_DIR

STATE_DIR = f"{SOURCE_STATE_DIR}/devon"
"""This adapter's resume state, under the contract's SOURCE_STATE_DIR."""


@attrs.frozen
class FileJob:
    """Where one file goes and where its partial bytes and their records live."""

    file: RemoteFile
    target: Path
    partial: Path
    partial_record: Path
    record: Path

    @classmethod
    def plan(cls, dest: Path, file: RemoteFile) -> "FileJob":
        relative = PurePosixPath(file.path)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise DownloadFailed(f"Refusing to write {file.path!r}: not a path inside the model")
        state = dest / STATE_DIR
        return cls(
            file=file,
            target=dest.joinpath(*relative.parts),
            partial=state.joinpath("partial", *relative.parts[:-1], relative.name + ".part"),
            partial_record=state.joinpath(
                "partial", *relative.parts[:-1], relative.name + ".part.json"
            ),
            record=state.joinpath("done", *relative.parts[:-1], relative.name + ".json"),
        )

    def is_complete(self, revision: str | None) -> bool:
        """The target is there and is the file wanted now: same revision, or same content."""
        try:
            size = self.target.stat().st_size
        except OSError:
            return False
        return size == self.file.size_bytes and self._describes(self.record, revision)

    def discard_stale_partial(self, revision: str | None) -> None:
        """Delete the `.part` unless its record says it is a prefix of the file wanted now
        (same revision, or same content) and it is no longer than that file."""
        if self.partial_size() == 0:
            return
        current = self._describes(self.partial_record, revision)
        if not current or self.partial_size() > self.file.size_bytes:
            self.discard_partial()

    def start_partial(self, revision: str | None) -> None:
        """Begin the `.part` from byte 0, recording first what its bytes will be."""
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        self.partial.unlink(missing_ok=True)
        self._write_record(self.partial_record, revision)

    def open_partial(self) -> BinaryIO:
        """The `.part` file, opened to append what arrives next."""
        return self.partial.open("ab")

    def ranged_spans(self, revision: str | None) -> list[Span] | None:
        """The spans on disk of a ranged `.part` of the file wanted now; None when the `.part`
        is not a ranged one (or not of this file)."""
        record = self._read(self.partial_record)
        if record is None or not self._matches(record, revision) or "spans" not in record:
            return None
        try:
            spans = [(int(s), int(e)) for s, e in record["spans"]]
        except (TypeError, ValueError):
            return None
        return merge((max(s, 0), min(e, self.file.size_bytes)) for s, e in spans)

    def start_ranged_partial(self, revision: str | None, spans: Sequence[Span]) -> None:
        """Make the `.part` a ranged one of the file's full size (keeping its bytes) whose
        record says `spans` are on disk. Room is reserved up front where the filesystem can
        (`posix_fallocate`), so a full disk shows before the transfer, not in the middle.
        The record is written first: a `.part` grown to full size while its record still
        described a plain prefix would pass for a whole file after a full disk or a crash."""
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        self.write_spans(revision, spans)
        fd = os.open(self.partial, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size != self.file.size_bytes:
                os.ftruncate(fd, self.file.size_bytes)
            if self.file.size_bytes > 0 and hasattr(os, "posix_fallocate"):
                try:
                    os.posix_fallocate(fd, 0, self.file.size_bytes)
                except OSError as error:
                    if error.errno in (errno.ENOSPC, errno.EDQUOT):
                        raise  # a full disk is reported; anything else: stay sparse
        finally:
            os.close(fd)

    def write_spans(self, revision: str | None, spans: Sequence[Span]) -> None:
        """Record (atomically: a crash leaves the old record or the new one) which spans of
        the ranged `.part` are on disk."""
        record = self._record(revision) | {"spans": [list(s) for s in merge(spans)]}
        temporary = self.partial_record.with_name(self.partial_record.name + ".tmp")
        temporary.write_text(json.dumps(record))
        os.replace(temporary, self.partial_record)

    def as_stream_partial(self, revision: str | None) -> None:
        """Turn a ranged `.part` into a plain prefix (its contiguous bytes from 0 on), for a
        file fetched as one stream after all."""
        spans = self.ranged_spans(revision)
        if spans is None:
            return
        with self.partial.open("r+b") as out:
            out.truncate(contiguous_prefix(spans))
        self._write_record(self.partial_record, revision)

    def kept_bytes(self, revision: str | None) -> int:
        """Bytes of the file wanted now that the `.part` already holds."""
        spans = self.ranged_spans(revision)
        return covered(spans) if spans is not None else self.partial_size()

    def discard_partial(self) -> None:
        self.partial.unlink(missing_ok=True)
        self.partial_record.unlink(missing_ok=True)

    def partial_size(self) -> int:
        try:
            return self.partial.stat().st_size
        except OSError:
            return 0

    def complete(self, revision: str | None) -> None:
        """Move the whole (and checked) `.part` into place and record what it is."""
        self.target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.partial, self.target)
        self.partial_record.unlink(missing_ok=True)
        self.record.parent.mkdir(parents=True, exist_ok=True)
        self._write_record(self.record, revision)

    def _record(self, revision: str | None) -> dict[str, Any]:
        return {"revision": revision, "sha256": self.file.sha256, "size": self.file.size_bytes}

    def _write_record(self, path: Path, revision: str | None) -> None:
        path.write_text(json.dumps(self._record(revision)))

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _describes(self, path: Path, revision: str | None) -> bool:
        """The record at `path` is of the file wanted now: same size, and same revision or
        (for a file with a sha256) same content. A missing or unreadable record is not."""
        record = self._read(path)
        return record is not None and self._matches(record, revision)

    def _matches(self, record: dict[str, Any], revision: str | None) -> bool:
        if record.get("size") != self.file.size_bytes:
            return False
        same_revision = revision is not None and record.get("revision") == revision
        same_content = self.file.sha256 is not None and record.get("sha256") == self.file.sha256
        return same_revision or same_content


def arrived_bytes(dest: Path) -> int:
    """Bytes that have arrived in the staging directory `dest`: every file's size, except a
    ranged `.part` (preallocated to the file's full size) counts only the spans its record
    says are on disk. What `devon status` calls the partial downloads' bytes; their size on
    disk (`staging_bytes`) also counts the room reserved for the rest."""
    total = 0
    for current, _dirs, names in os.walk(dest):
        for name in names:
            path = Path(current, name)
            try:
                if path.is_symlink():
                    continue
                size = path.stat().st_size
            except OSError:
                continue
            if name.endswith(".part"):
                size = min(size, _recorded_spans(path.with_name(name + ".json"), size))
            total += size
    return total


def _recorded_spans(record: Path, size: int) -> int:
    """The bytes a ranged `.part`'s record says are on disk; `size` when it is no ranged one."""
    try:
        spans = json.loads(record.read_text())["spans"]
        return covered((int(start), int(end)) for start, end in spans)
    except (OSError, ValueError, KeyError, TypeError):
        return size


def landed_files(dest: Path) -> dict[str, LandedFile]:
    """The complete files in the staging directory `dest`, by relative path: each with its
    `done` record (written after the file was checked and moved into place) and the size
    that record gives. Nothing when `dest` does not exist."""
    done = dest / STATE_DIR / "done"
    found: dict[str, LandedFile] = {}
    for current, _dirs, names in os.walk(done):
        for name in names:
            if not name.endswith(".json"):
                continue
            record_path = Path(current, name)
            relative = record_path.relative_to(done).as_posix()[: -len(".json")]
            landed = landed_file(dest, relative)
            if landed is not None:
                found[relative] = landed
    return found


def landed_file(dest: Path, relative: str) -> LandedFile | None:
    """File `relative` of the staging directory `dest` if it is complete: its `done` record
    is readable and the file on disk has the record's size. None otherwise."""
    if PurePosixPath(relative).parts[:1] == (SOURCE_STATE_DIR,):
        return None  # download state, never a model file
    try:
        job = FileJob.plan(dest, RemoteFile(relative, 0))
    except DownloadFailed:
        return None
    record = FileJob._read(job.record)
    if record is None or not isinstance(record.get("size"), int):
        return None
    try:
        size = job.target.stat().st_size
    except OSError:
        return None
    if size != record["size"] or job.target.is_symlink():
        return None
    sha256 = record.get("sha256")
    revision = record.get("revision")
    return LandedFile(
        relative,
        job.target,
        size,
        sha256 if isinstance(sha256, str) else None,
        revision if isinstance(revision, str) else None,
    )
