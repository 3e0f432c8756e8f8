"""Properties of the range arithmetic behind parallel downloads: for any file size, what is
already on disk and any piece size, the pieces asked for cover exactly what is missing."""

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devon_adapters.transfer.byte_ranges import (
    MAX_PIECE,
    MIB,
    PIECES_PER_CONNECTION,
    Span,
    SpanSet,
    contiguous_prefix,
    covered,
    merge,
    missing,
    parse_content_range,
    piece_size,
    range_header,
    split,
)
from devon_core.hub_protocol import Unsatisfiable, requested_span

sizes = st.integers(min_value=1, max_value=10**12)


@st.composite
def file_and_spans(draw: st.DrawFn) -> tuple[int, list[Span]]:
    """A file size (odd ones included) and spans of it already on disk, in any order."""
    size = draw(st.integers(min_value=1, max_value=50_000_000))
    points = draw(st.lists(st.integers(min_value=0, max_value=size), max_size=12))
    spans = [(min(a, b), max(a, b)) for a, b in zip(points[::2], points[1::2], strict=False)]
    return size, spans


def bytes_of(spans: list[Span]) -> set[int]:
    return {i for start, end in spans for i in range(start, end)}


@given(file_and_spans(), st.integers(min_value=1, max_value=2000))
def test_pieces_cover_exactly_the_missing_bytes_in_file_order(
    case: tuple[int, list[Span]], share: int
) -> None:
    size, done = case
    piece = max(size // share, 1) + share % 7  # from the whole file down to a 2000th, odd ones
    pieces = split(missing(done, size), piece)

    assert pieces == sorted(pieces)
    assert all(0 <= start < end <= size and end - start <= piece for start, end in pieces)
    assert all(a[1] <= b[0] for a, b in pairwise(pieces))
    assert covered(pieces) + covered(done) == size
    assert covered([*pieces, *done]) == size


@given(st.integers(min_value=1, max_value=5000), st.integers(min_value=1, max_value=600))
def test_a_fresh_file_is_cut_into_pieces_that_add_up_to_its_size(size: int, piece: int) -> None:
    pieces = split(missing([], size), piece)

    assert pieces[0][0] == 0
    assert pieces[-1][1] == size
    assert sum(end - start for start, end in pieces) == size
    assert len(pieces) == -(-size // piece)


@given(file_and_spans())
def test_merged_spans_hold_the_same_bytes_without_overlap(case: tuple[int, list[Span]]) -> None:
    _, spans = case
    small = [(s % 3000, e % 3000) for s, e in spans]
    small = [(min(s, e), max(s, e)) for s, e in small]

    merged = merge(small)

    assert bytes_of(merged) == bytes_of(small)
    assert all(a[1] < b[0] for a, b in pairwise(merged))


@given(sizes, st.integers(min_value=1, max_value=64))
def test_piece_size_gives_each_connection_several_pieces_within_bounds(
    size: int, connections: int
) -> None:
    piece = piece_size(size, connections)

    assert MIB <= piece <= MAX_PIECE
    if MIB * connections * PIECES_PER_CONNECTION <= size <= MAX_PIECE * connections:
        assert -(-size // piece) >= connections * PIECES_PER_CONNECTION // 2


def test_piece_size_of_an_odd_size_rounds_up_so_no_sliver_is_left_over() -> None:
    size = 512 * MIB + 1

    piece = piece_size(size, 8)

    assert len(split([(0, size)], piece)) == 8 * PIECES_PER_CONNECTION


@given(file_and_spans())
def test_contiguous_prefix_is_the_first_span_when_it_starts_at_zero(
    case: tuple[int, list[Span]],
) -> None:
    _, spans = case
    merged = merge(spans)

    prefix = contiguous_prefix(spans)

    assert prefix == (merged[0][1] if merged and merged[0][0] == 0 else 0)
    assert all(start > prefix for start, _ in merged[1:])


def test_span_set_grows_its_prefix_only_when_the_gap_closes() -> None:
    landed = SpanSet()
    landed.add(100, 200)
    assert landed.prefix() == 0
    landed.add(0, 50)
    assert landed.prefix() == 50
    landed.add(50, 100)

    assert landed.prefix() == 200
    assert landed.spans == [(0, 200)]
    assert landed.covered() == 200


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=10**9))
def test_content_range_of_the_header_asked_reads_back_as_the_same_span(
    start: int, length: int
) -> None:
    span = (start, start + length)
    header = range_header(span)
    first, last = header.removeprefix("bytes=").split("-")

    answered = parse_content_range(f"bytes {first}-{last}/{start + length + 7}")

    assert answered == (start, start + length, start + length + 7)


def test_content_range_not_of_the_bytes_form_is_not_a_span() -> None:
    assert parse_content_range(None) is None
    assert parse_content_range("bytes */1000") is None
    assert parse_content_range("items 0-1/2") is None
    assert parse_content_range("bytes 0-9/*") == (0, 10, None)


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("bytes=0-99", (0, 100)),
        ("bytes=10-", (10, 1000)),
        ("bytes=-100", (900, 1000)),
        ("bytes=990-5000", (990, 1000)),
        ("bytes=5-9, 20-30", None),
        ("items=0-5", None),
        ("bytes=9-5", None),
        ("bytes=abc", None),
    ],
)
def test_a_request_range_names_the_span_of_the_file_it_asks_for(
    header: str | None, span: Span | None
) -> None:
    assert requested_span(header, 1000) == span


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_a_range_starting_past_the_end_is_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        requested_span(header, 1000)
