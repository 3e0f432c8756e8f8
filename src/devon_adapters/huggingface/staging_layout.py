"""Where a download keeps its files in the staging directory `dest`:

- `<path>`: a file that is complete (and verified when it has a sha256);
- `.cache/devon/partial/<path>.part`: bytes of a file still arriving, kept across failures;
- `.cache/devon/partial/<path>.part.json`: which revision, size and sha256 those bytes are a
  prefix of, written before the first byte; a later attempt resumes the `.part` only while
  this still describes the file wanted now, and starts it anew otherwise (a `.part` without
  one is never resumed: its bytes could belong to any revision);
- `.cache/devon/done/<path>.json`: which revision and sha256 a complete file is, so that a
  later attempt reuses it only while it is still the wanted one.

`.cache/` is download state, never a model file: the vault commits only the model's files.
"""

import json
import os
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import attrs

from devon_core.errors import DownloadFailed
from devon_core.models import RemoteFile

STATE_DIR = ".cache/devon"


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

    def _write_record(self, path: Path, revision: str | None) -> None:
        record = {"revision": revision, "sha256": self.file.sha256, "size": self.file.size_bytes}
        path.write_text(json.dumps(record))

    def _describes(self, path: Path, revision: str | None) -> bool:
        """The record at `path` is of the file wanted now: same size, and same revision or
        (for a file with a sha256) same content. A missing or unreadable record is not."""
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        if not isinstance(record, dict) or record.get("size") != self.file.size_bytes:
            return False
        same_revision = revision is not None and record.get("revision") == revision
        same_content = self.file.sha256 is not None and record.get("sha256") == self.file.sha256
        return same_revision or same_content
