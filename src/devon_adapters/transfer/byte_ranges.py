"""Byte ranges of one file: which spans are on disk, what is missing, how to split it.

Pure functions and one small mutable set; no I/O. A span is `(start, end)` with `end`
exclusive, as in slicing. `Range` headers are inclusive; `range_header` converts.
"""

import re
from collections.abc import Iterable, Sequence

MIB = 1024 * 1024
PIECES_PER_CONNECTION = 8
MAX_PIECE = 64 * MIB

Span = tuple[int, int]

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, non-empty, non-overlapping spans covering the same bytes (touching ones joined)."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def missing(done: Iterable[Span], size: int) -> list[Span]:
    """The spans of `[0, size)` not covered by `done`."""
    gaps: list[Span] = []
    position = 0
    for start, end in merge(done):
        if start >= size:
            break
        if start > position:
            gaps.append((position, start))
        position = max(position, end)
    if position < size:
        gaps.append((position, size))
    return gaps


def covered(spans: Iterable[Span]) -> int:
    """How many bytes `spans` cover (overlaps counted once)."""
    return sum(end - start for start, end in merge(spans))


def contiguous_prefix(spans: Iterable[Span]) -> int:
    """How many bytes from byte 0 on are covered without a gap."""
    merged = merge(spans)
    return merged[0][1] if merged and merged[0][0] == 0 else 0


def piece_size(size: int, connections: int, smallest: int = MIB) -> int:
    """How large the pieces of a `size`-byte file fetched over `connections` should be:
    about PIECES_PER_CONNECTION per connection (so the contiguous prefix, and the hash that
    follows it, advance steadily), at least `smallest`, at most MAX_PIECE."""
    wanted = -(-size // max(connections * PIECES_PER_CONNECTION, 1))
    return max(smallest, min(MAX_PIECE, wanted))


def split(gaps: Sequence[Span], piece: int) -> list[Span]:
    """`gaps` cut into pieces of at most `piece` bytes, in file order."""
    if piece <= 0:
        raise ValueError("piece size must be positive")
    pieces: list[Span] = []
    for start, end in merge(gaps):
        while start < end:
            stop = min(start + piece, end)
            pieces.append((start, stop))
            start = stop
    return pieces


def range_header(span: Span) -> str:
    """The `Range` header value asking for `span`."""
    return f"bytes={span[0]}-{span[1] - 1}"


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """`Content-Range: bytes a-b/n` as the span `(a, b + 1)` and total `n` (None for `*`);
    None when absent or not of that form."""
    if value is None:
        return None
    match = _CONTENT_RANGE.match(value)
    if match is None:
        return None
    total = None if match[3] == "*" else int(match[3])
    return int(match[1]), int(match[2]) + 1, total


class SpanSet:
    """Spans of one file that are on disk, added to as writes land (not thread-safe)."""

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        self._spans = merge(spans)

    def add(self, start: int, end: int) -> None:
        self._spans = merge([*self._spans, (start, end)])

    @property
    def spans(self) -> list[Span]:
        return list(self._spans)

    def covered(self) -> int:
        return covered(self._spans)

    def prefix(self) -> int:
        return contiguous_prefix(self._spans)
