"""Where things live in a vault, and the checks that keep every path inside it.

Layout::

    <root>/<source>/<model_id>/            the files of a complete model
    <root>/.devon/index.sqlite3            the index
    <root>/.devon/index-reserve            room kept to record job ends on a full disk
    <root>/.devon/staging/<source>/<id>/   downloads in progress (kept for a resume)
    <root>/.devon/trash/                   directories on their way out
    <root>/.devon/locks/                   per-model lock files

Every method validates the source name and model id (devon_core.identifiers) before it
builds a path, so nothing a user typed can point outside the vault.
"""

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from devon_adapters.model_files.names import is_half_written
from devon_core.errors import InvalidInput
from devon_core.identifiers import LOCAL_SOURCE, validate_model_id, validate_source_name
from devon_core.results import SOURCE_STATE_DIR

STATE_DIR = ".devon"
INDEX_NAME = "index.sqlite3"
RESERVE_NAME = "index-reserve"
DIR_MODE = 0o700
FILE_MODE = 0o600

PARTIAL_DIR = f"{SOURCE_STATE_DIR}/devon/partial"
PARTIAL_SUFFIX = ".part"
"""A file still arriving is `<staging>/.cache/devon/partial/<path>.part` (the layout of
`devon_adapters.transfer.staging_layout`, the vault's one resume layout)."""


@attrs.frozen
class VaultPaths:
    root: Path
    real_root: Path = attrs.field(
        default=attrs.Factory(lambda self: Path(os.path.realpath(self.root)), takes_self=True)
    )
    """The root with symlinks resolved (once: the vault itself may sit behind a link)."""

    @classmethod
    def at(cls, root: Path | str) -> "VaultPaths":
        return cls(Path(os.path.abspath(Path(root).expanduser())))

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def index(self) -> Path:
        return self.state / INDEX_NAME

    @property
    def index_reserve(self) -> Path:
        return self.state / RESERVE_NAME

    @property
    def staging_root(self) -> Path:
        return self.state / "staging"

    @property
    def trash(self) -> Path:
        return self.state / "trash"

    @property
    def locks(self) -> Path:
        return self.state / "locks"

    @property
    def reservations(self) -> Path:
        return self.state / "reservations"

    def model_dir(self, source: str, model_id: str) -> Path:
        return self.root / validate_source_name(source) / validate_model_id(model_id)

    def folder_of(self, source: str, model_id: str, metadata: Mapping[str, Any]) -> Path:
        """Where a recorded model's files are: the folder a person placed it in, for a
        `local` model registered there (`placed_folder`), else `model_dir`."""
        placed = placed_folder(source, metadata)
        return self.root / placed if placed else self.model_dir(source, model_id)

    def staging(self, source: str, model_id: str) -> Path:
        return self.staging_root / validate_source_name(source) / validate_model_id(model_id)

    def ensure_inside(self, path: Path) -> Path:
        """`path`, if its real location (symlinks resolved) is inside the vault.

        A final component that is itself a symlink is checked as the link, not its target:
        moving or unlinking a link never touches what it points at."""
        if path.is_symlink():
            real = Path(os.path.realpath(path.parent), path.name)
        else:
            real = Path(os.path.realpath(path))
        if not real.is_relative_to(self.real_root):
            raise InvalidInput(f"Refusing to touch {path}: it resolves outside the vault")
        return real


PLACED_FOLDER = "folder"
"""Metadata key of a `local` model registered where a person placed it rather than at
`<root>/local/<model_id>`: its folder, relative to the vault's root (a POSIX path), so that
the vault can still move as a whole (ADR 0210)."""
_PLACED_TEXT = f'"{PLACED_FOLDER}": "'
"""How that key and its string value start in metadata stored as JSON text."""


def placed_folder(source: str, metadata: Mapping[str, Any]) -> str | None:
    """The placed folder a `local` model's metadata records, if it is a plain relative path
    outside DEVON's state; None otherwise (the model is at `<root>/<source>/<model_id>`)."""
    value = metadata.get(PLACED_FOLDER) if source == LOCAL_SOURCE else None
    if not isinstance(value, str):
        return None
    try:
        check_relative_file(value)
    except InvalidInput:
        return None
    return None if value.split("/")[0] == STATE_DIR else value


def placed_folder_in_text(source: str, metadata: str) -> str | None:
    """`placed_folder` of metadata stored as JSON text, decoding it only when it may hold one
    (writers of whole listings read 100,000 rows without decoding them)."""
    if source != LOCAL_SOURCE or _PLACED_TEXT not in metadata:
        return None
    return placed_folder(source, json.loads(metadata))


def make_private_dirs(path: Path) -> None:
    """Create `path` and missing parents with owner-only permissions."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            directory.mkdir(mode=DIR_MODE)


def is_download_metadata(relative: str) -> bool:
    """Whether `relative` lies where a source keeps its resume state (`.cache/...`, the
    contract's SOURCE_STATE_DIR): never a model file."""
    return relative == SOURCE_STATE_DIR or relative.startswith(SOURCE_STATE_DIR + "/")


def check_relative_file(relative: str) -> str:
    """`relative` if it is a plain relative POSIX path with no `..`, else InvalidInput."""
    if (
        not relative
        or relative.startswith("/")  # PurePosixPath's is_absolute, without its parsing
        or "\\" in relative
        or any(part in ("", ".", "..") for part in relative.split("/"))
        or any(ord(c) < 32 for c in relative)
    ):
        raise InvalidInput(f"Invalid file path {relative!r}: expected a relative POSIX path")
    return relative


def walk_files(directory: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file under `directory` (relative POSIX path, lstat), never following
    symlinks and skipping download metadata. Symlinks are not model files."""
    if not directory.is_dir() or directory.is_symlink():
        return
    stack = [(directory, "")]
    while stack:
        current, prefix = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                relative = f"{prefix}{entry.name}"
                if is_download_metadata(relative):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), relative + "/"))
                elif entry.is_file(follow_symlinks=False):
                    yield relative, entry.stat(follow_symlinks=False)


def half_written_file(directory: Path, files: Iterable[str] | None = None) -> str | None:
    """The first file under `directory` that a download is still writing (a `.part`, a
    huggingface_hub `.incomplete`), as a relative POSIX path; or None. (huggingface_hub's
    `.lock` files stay after a download completes: they say nothing.)
    `files`, when given, are its files as `walk_files` lists them (saves walking it again)."""
    listed = sorted(files) if files is not None else [p for p, _ in walk_files(directory)]
    for relative in listed:
        if is_half_written(relative):
            return relative
    base = directory / SOURCE_STATE_DIR  # where sources keep their in-progress files
    if not base.is_dir() or base.is_symlink():
        return None
    for current, dirs, names in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(current, d)))
        for name in sorted(names):
            if is_half_written(name):
                return Path(current, name).relative_to(directory).as_posix()
    return None


def tree_size(directory: Path) -> int:
    return sum(stat.st_size for _, stat in walk_files(directory))


def partial_files(staging: Path) -> dict[str, int]:
    """The files still arriving in `staging`: relative path -> bytes already there."""
    partial = staging / PARTIAL_DIR
    found = {}
    for current, _dirs, names in os.walk(partial):
        for name in names:
            if name.endswith(PARTIAL_SUFFIX):
                path = Path(current, name)
                with contextlib.suppress(OSError):
                    relative = path.relative_to(partial).as_posix()[: -len(PARTIAL_SUFFIX)]
                    found[relative] = path.lstat().st_size
    return found


def staged_bytes(staging: Path) -> int:
    """Every byte in `staging`, download state included (what it takes on the disk)."""
    total = 0
    for current, _dirs, names in os.walk(staging):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(current, name)).st_size
    return total
