"""What a source may list as a model's file (ADR 0203): a name that is a relative POSIX path
of printable characters, a size of 0 to 1 PiB, a sha256 of 64 hex digits. A listing that
breaks one is the source's fault: the source adapter refuses it as a source error, before
any path is built from it or any room is counted for it."""

import string
import unicodedata

MAX_FILE_BYTES = 2**50
"""1 PiB: far above any model file, far below what would overflow a size or a sum."""
MAX_PATH_CHARS = 4096
_HEX = frozenset(string.hexdigits.lower())


def file_listing_problem(path: object, size: object, sha256: object = None) -> str | None:
    """Why a listed file (its name, its size in bytes, its sha256 or None) cannot be taken;
    None when it can."""
    if not isinstance(path, str) or not path:
        return f"a file name that is not a name ({path!r})"
    if any(unicodedata.category(c) == "Cc" for c in path):
        return f"the file name {path!r}, which holds a control character"
    if len(path) > MAX_PATH_CHARS:
        return f"a file name longer than {MAX_PATH_CHARS} characters"
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return f"the file name {path!r}, which is not a relative path inside the model"
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_FILE_BYTES:
        return f"the size {size!r} for {path!r}, which is not a number of bytes from 0 to 1 PiB"
    if sha256 is not None and (
        not isinstance(sha256, str) or len(sha256) != 64 or not set(sha256) <= _HEX
    ):
        return f"the sha256 {sha256!r} for {path!r}, which is not 64 hex digits"
    return None
