"""Where a download keeps its files in the staging directory `dest`:

- `<path>`: a file that is complete (and verified when it has a sha256);
- `.cache/devon/partial/<path>.part`: bytes of a file still arriving, kept across failures;
- `.cache/devon/done/<path>.json`: which revision and sha256 a complete file is, so that a
  later attempt reuses it only while it is still the wanted one.

`.cache/` is download state, never a model file: the vault commits only the model's files.
"""

import json
import os
from pathlib import Path, PurePosixPath

import attrs

from devon_core.errors import DownloadFailed
from devon_core.models import RemoteFile

STATE_DIR = ".cache/devon"


@attrs.frozen
class FileJob:
    """Where one file goes and where its partial bytes and completion record live."""

    file: RemoteFile
    target: Path
    partial: Path
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
            record=state.joinpath("done", *relative.parts[:-1], relative.name + ".json"),
        )

    def is_complete(self, revision: str | None) -> bool:
        """The target is there and is the file wanted now: same revision, or same content."""
        try:
            record = json.loads(self.record.read_text())
            size = self.target.stat().st_size
        except (OSError, ValueError):
            return False
        if not isinstance(record, dict) or size != self.file.size_bytes:
            return False
        same_revision = revision is not None and record.get("revision") == revision
        same_content = self.file.sha256 is not None and record.get("sha256") == self.file.sha256
        return same_revision or same_content

    def partial_size(self) -> int:
        try:
            return self.partial.stat().st_size
        except OSError:
            return 0

    def complete(self, revision: str | None) -> None:
        """Move the whole (and checked) `.part` into place and record what it is."""
        self.target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.partial, self.target)
        self.record.parent.mkdir(parents=True, exist_ok=True)
        record = {"revision": revision, "sha256": self.file.sha256, "size": self.file.size_bytes}
        self.record.write_text(json.dumps(record))
