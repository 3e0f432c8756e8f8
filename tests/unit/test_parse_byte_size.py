"""`parse_byte_size`: the size a user sets as a quota (`DEVON_MAX_STORAGE=500gb`)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devon_core import InvalidInput
from devon_core.filters import SIZE_UNITS, parse_byte_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500gb", 500 * 1024**3),
        ("1.5TB", 1536 * 1024**3),
        ("750 mb", 750 * 1024**2),
        ("4096", 4096),
        ("10b", 10),
        ("0", 0),
    ],
)
def test_sizes_are_read_in_powers_of_1024(text: str, expected: int) -> None:
    assert parse_byte_size(text) == expected


@pytest.mark.parametrize("text", ["", "gb", "<5gb", "-1gb", "5 zb", "five gb", "1e3gb"])
def test_anything_else_is_invalid_input_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(InvalidInput, match="500gb"):
        parse_byte_size(text)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(SIZE_UNITS)))
def test_a_whole_number_of_units_is_that_many_unit_bytes(count: int, unit: str) -> None:
    assert parse_byte_size(f"{count}{unit}") == count * SIZE_UNITS[unit]


@pytest.mark.parametrize(("typed", "printed"), [("kib", "KiB"), ("mib", "MiB"), ("gib", "GiB")])
def test_sizes_read_as_devon_prints_them(typed: str, printed: str) -> None:
    from devon_core.rules import format_bytes

    assert format_bytes(parse_byte_size(f"1.5{typed}")) == f"1.5 {printed}"
