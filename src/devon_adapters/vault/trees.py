"""Whole directory trees of the vault: their size, their deletion (never following a symlink
out), their valid children."""

import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from devon_core.errors import InvalidInput


def bytes_under(directory: Path) -> int:
    """Bytes of every regular file under `directory`, download state included, never
    following a symlink; 0 when it is missing. Files that vanish meanwhile count 0."""
    total = 0
    for current, _, names in os.walk(directory):
        for name in names:
            with contextlib.suppress(OSError):
                stat = os.lstat(os.path.join(current, name))
                if not os.path.islink(os.path.join(current, name)):
                    total += stat.st_size
    return total


def delete_tree(path: Path) -> None:
    """Delete `path` without ever following a symlink out of it. Entries that vanish
    meanwhile are fine: another process opening the vault may be emptying the same trash."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=_raise_unless_gone)
        else:
            shutil.rmtree(path, onerror=_raise_unless_gone_info)


def _raise_unless_gone(func: Callable[..., object], name: str, error: BaseException) -> None:
    if not isinstance(error, FileNotFoundError):
        raise error


def _raise_unless_gone_info(func: Callable[..., object], name: str, info: Any) -> None:
    _raise_unless_gone(func, name, info[1])


def valid_children(directory: Path, validate: Callable[[str], str]) -> Iterator[Path]:
    if not directory.is_dir():
        return
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if not entry.is_dir(follow_symlinks=False):
            continue
        try:
            validate(entry.name)
        except InvalidInput:
            continue
        yield Path(entry.path)
