"""Records of file times seen when a check of them last passed, so that a check of something
unchanged since is not run again (the vault's model folders, ADR 0132; its index file,
ADR 0010). A record is a small JSON object of integers, replaced whole."""

import json
import logging
import os
import uuid
from pathlib import Path

from devon_adapters.vault.paths import FILE_MODE

log = logging.getLogger(__name__)

SETTLED_NS = 2_000_000_000
"""Only times at least this old are recorded: a change made within the filesystem's time
resolution of a recorded time could otherwise leave it as it was."""


def read_checked(path: Path) -> dict[str, int]:
    """The record at `path`; {} if there is none or it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and type(v) is int}


def write_checked(path: Path, checked: dict[str, int]) -> None:
    """Replace the record at `path` with `checked` (a record that cannot be written only
    means the check runs again next time)."""
    temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with open(fd, "w", encoding="utf-8") as kept:
            json.dump(checked, kept)
        os.replace(temporary, path)
    except OSError as error:
        log.debug("Could not record what was checked in %s: %s", path, error)
        temporary.unlink(missing_ok=True)
