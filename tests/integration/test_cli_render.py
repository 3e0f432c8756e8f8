"""How the CLI writes numbers for people."""

import pytest

from devon_cli.render import format_count, format_params


@pytest.mark.parametrize(
    ("billions", "shown"),
    [(7.6, "7.6B"), (8, "8B"), (0.5, "500M"), (0.494, "494M"), (70.6, "70.6B"),
     (405, "405B"), (1500, "1.5T"), (0.0001, "100K"), (None, "-")],
)  # fmt: skip
def test_parameter_counts_use_the_largest_unit_with_one_decimal_at_most(
    billions: float | None, shown: str
) -> None:
    assert format_params(billions) == shown


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "0"), (999, "999"), (985_000, "985K"), (1_234_567, "1.2M"), (2_000_000_000, "2B")],
)
def test_download_counts_are_short(count: int, shown: str) -> None:
    assert format_count(count) == shown
