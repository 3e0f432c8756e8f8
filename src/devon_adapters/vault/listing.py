"""The vault's listing as JSON, kept in `.devon/listing.json` between changes (ADR 0132).

The whole listing is kept stamped with the index's change stamp (read before the rows) and the
vault's root: any process that finds the stamp current reads the file instead of the rows.
"""

import contextlib
import io
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any, BinaryIO

from devon_adapters.index.backends import VaultIndex
from devon_adapters.vault.paths import FILE_MODE, PLACED_FOLDER, VaultPaths, placed_folder_in_text
from devon_core.identifiers import validate_source_name

log = logging.getLogger(__name__)

LISTING_FILE = "listing.json"

PathOf = Callable[[str, str, dict[str, Any] | None], str]
"""The directory of a recorded model (source, model id, metadata: a placed folder's)."""


class KeptListing:
    """`list_json` and `write_list_json` of the store: the listing made straight from the
    index's stored text, and kept for the next reader."""

    def __init__(self, paths: VaultPaths, index: VaultIndex, path_of: PathOf) -> None:
        self._index = index
        self._path_of = path_of
        self._root = str(paths.root)
        self._prefix = f"{self._root}{os.sep}"
        self._path = paths.state / LISTING_FILE

    def list_json(self, source: str | None = None) -> tuple[int, str]:
        """The whole listing is kept in `.devon/listing.json`, stamped with the index's
        change stamp (read before the rows) and the vault's root: any process that finds
        the stamp current reads the file instead of the rows (ADR 0132)."""
        if source is not None:
            return self._rows_json(source)
        stamp, path = self._stamp(), self._path
        with contextlib.suppress(OSError, UnicodeDecodeError), open(path, "rb") as kept:
            count = _kept_count(kept, stamp)
            if count is not None:
                return count, kept.read().decode("utf-8")
        return self._keep(stamp, path)

    def write_list_json(self, out: BinaryIO, head: bytes = b"") -> int:
        """`head` and then `list_json()`'s text written to `out`, from the kept listing (made
        first when it is not current): with `os.sendfile` when `out` is a file or a pipe, so
        the bytes never pass through Python. `head` goes out once the listing is ready."""
        stamp, path = self._stamp(), self._path
        try:
            kept = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError:
            kept = None
        if kept is not None:
            with kept:
                count = _kept_count(kept, stamp)
                if count is not None:
                    out.write(head)
                    _send_rest(kept, out)  # its failures are the output's: not retried
                    return count
        count, text = self._keep(stamp, path)
        out.write(head + text.encode("utf-8"))
        return count

    def _stamp(self) -> str:
        return f"{self._index.change_stamp()} {self._root}"

    def _keep(self, stamp: str, path: Path) -> tuple[int, str]:
        """The whole listing made from the rows, and kept in `path` under `stamp`."""
        count, text = self._rows_json(None)
        _write_listing(path, stamp, count, text)
        return count, text

    def _rows_json(self, source: str | None) -> tuple[int, str]:
        """The listing's JSON written straight from the stored text (ADR 0132): the index
        keeps files and metadata as the JSON `json.dumps` gives for them (metadata with
        sorted keys, which is the order reading it back gives) and times as the ISO text
        `unstructure` gives, so only the strings need escaping. At 100,000 models this is
        a fifth of `list()` plus `json.dumps`."""
        if source is not None:
            validate_source_name(source)
        quoted = encode_basestring_ascii
        prefix = quoted(self._prefix)[:-1]  # the opening quote and the escaped root
        sep = quoted(os.sep)[1:-1]
        parts = []
        for source_name, model_id, size, downloaded, used, files, metadata in self._index.raw_rows(
            source
        ):
            s, m = quoted(source_name), quoted(model_id)
            last_used = f'"{used}"' if used else "null"
            placed = placed_folder_in_text(source_name, metadata)
            path = (
                quoted(self._path_of(source_name, model_id, {PLACED_FOLDER: placed}))
                if placed
                else f"{prefix}{s[1:-1]}{sep}{m[1:]}"
            )
            parts.append(
                f'{{"source": {s}, "model_id": {m}, "path": {path}, '
                f'"size_bytes": {size}, "downloaded_at": "{downloaded}", '
                f'"last_used": {last_used}, "files": {files}, "metadata": {metadata}}}'
            )
        return len(parts), "[" + ", ".join(parts) + "]"


def _kept_count(kept: BinaryIO, stamp: str) -> int | None:
    """The count in a kept listing's first line if its stamp is `stamp` (the file is left
    at the start of the text), else None."""
    header = kept.readline().decode("utf-8", "replace").rstrip("\n")
    kept_stamp, _, count = header.rpartition(" ")
    return int(count) if kept_stamp == stamp and count.isdigit() else None


def _send_rest(source: BinaryIO, out: BinaryIO) -> None:
    """The rest of `source` written to `out`: by the kernel when both are files or pipes."""
    offset = source.tell()
    end = os.fstat(source.fileno()).st_size
    try:
        target = out.fileno()
        out.flush()
        while offset < end:
            sent = os.sendfile(target, source.fileno(), offset, end - offset)
            if sent == 0:
                break
            offset += sent
    except (OSError, ValueError, io.UnsupportedOperation):
        source.seek(offset)  # whatever was sent stays sent; the rest goes the slow way
        shutil.copyfileobj(source, out, 1024 * 1024)


def _write_listing(path: Path, stamp: str, count: int, text: str) -> None:
    """Keep a listing for the next reader; failing to is only a missed shortcut."""
    temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with open(fd, "w", encoding="utf-8") as kept:
            kept.write(f"{stamp} {count}\n")
            kept.write(text)
        os.replace(temporary, path)
    except OSError as error:
        log.debug("Could not keep the listing in %s: %s", path, error)
        temporary.unlink(missing_ok=True)
