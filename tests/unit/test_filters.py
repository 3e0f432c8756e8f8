import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devon_core import InvalidInput, ModelFormat, ParamsFilter, SizeFilter
from devon_core.filters import Comparison, matches_any, validate_include_patterns

GB = 1024**3


@pytest.mark.parametrize(
    ("text", "comparison", "limit"),
    [
        ("<100gb", Comparison.LT, 100 * GB),
        ("<=500mb", Comparison.LE, 500 * 1024**2),
        (">1tb", Comparison.GT, 1024**4),
        (">=2.5GB", Comparison.GE, round(2.5 * GB)),
        (" < 10 kb ", Comparison.LT, 10 * 1024),
        ("10gb", Comparison.LE, 10 * GB),
        ("<512b", Comparison.LT, 512),
    ],
)
def test_size_filters_parse_operators_and_units_in_powers_of_1024(
    text: str, comparison: Comparison, limit: int
) -> None:
    assert SizeFilter.parse(text) == SizeFilter(comparison, limit)


@pytest.mark.parametrize(
    "text", ["", "<", "big", "<100", "<100xb", "<<1gb", "=1gb", "1e9gb", "-1gb", "<1.gb", "nan"]
)
def test_size_filter_junk_is_rejected_with_examples_of_valid_forms(text: str) -> None:
    with pytest.raises(InvalidInput, match="'<100gb'"):
        SizeFilter.parse(text)


def test_size_filter_bound_is_applied() -> None:
    under = SizeFilter.parse("<1gb")
    assert under.matches(GB - 1)
    assert not under.matches(GB)


@pytest.mark.parametrize(
    ("text", "comparison", "billions"),
    [
        ("7b", Comparison.ABOUT, 7.0),
        ("7B", Comparison.ABOUT, 7.0),
        ("500m", Comparison.ABOUT, 0.5),
        ("<=8b", Comparison.LE, 8.0),
        (">70b", Comparison.GT, 70.0),
        ("=1.5b", Comparison.ABOUT, 1.5),
        ("1t", Comparison.ABOUT, 1000.0),
    ],
)
def test_params_filters_parse_to_billions(
    text: str, comparison: Comparison, billions: float
) -> None:
    parsed = ParamsFilter.parse(text)
    assert parsed.comparison is comparison
    assert parsed.billions == pytest.approx(billions)


def test_a_bare_params_value_matches_within_twenty_percent() -> None:
    seven = ParamsFilter.parse("7b")
    assert seven.matches(7.6)
    assert seven.matches(5.6)
    assert not seven.matches(8.5)
    assert not seven.matches(5.5)


def test_params_comparisons_are_applied() -> None:
    assert ParamsFilter.parse("<=8b").matches(8.0)
    assert not ParamsFilter.parse(">70b").matches(70.0)


@pytest.mark.parametrize("text", ["", "b", "seven", "7gb", "<=", "0b", "7 billion", ">>7b"])
def test_params_junk_is_rejected(text: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid params filter"):
        ParamsFilter.parse(text)


size_filters = st.builds(
    SizeFilter,
    st.sampled_from([Comparison.LT, Comparison.LE, Comparison.GT, Comparison.GE]),
    st.integers(min_value=0, max_value=2**50),
)
params_filters = st.builds(
    ParamsFilter,
    st.sampled_from(list(Comparison)),
    st.integers(min_value=1, max_value=10**6).map(lambda n: n / 1000),
)


@given(size_filters)
def test_size_filters_round_trip_through_text(size: SizeFilter) -> None:
    assert SizeFilter.parse(str(size)) == size


@given(params_filters)
def test_params_filters_round_trip_through_text(params: ParamsFilter) -> None:
    parsed = ParamsFilter.parse(str(params))
    assert parsed.comparison is params.comparison
    assert parsed.billions == pytest.approx(params.billions)


@given(st.text(max_size=12))
def test_size_parser_raises_only_invalid_input_on_arbitrary_text(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        SizeFilter.parse(text)


@given(st.text(alphabet=st.characters(blacklist_characters="0123456789"), max_size=12))
def test_text_without_digits_is_never_a_params_filter(text: str) -> None:
    with pytest.raises(InvalidInput):
        ParamsFilter.parse(text)


@given(st.text(alphabet=st.characters(blacklist_characters="0123456789"), max_size=12))
def test_text_without_digits_is_never_a_size_filter(text: str) -> None:
    with pytest.raises(InvalidInput):
        SizeFilter.parse(text)


@pytest.mark.parametrize(
    ("text", "expected"), [("GGUF", ModelFormat.GGUF), (" pytorch", ModelFormat.PYTORCH)]
)
def test_formats_parse_case_insensitively(text: str, expected: ModelFormat) -> None:
    assert ModelFormat.parse(text) is expected


def test_unknown_formats_are_rejected_listing_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="gguf, safetensors, pytorch, onnx"):
        ModelFormat.parse("tensorflow")


def test_include_patterns_none_means_every_file() -> None:
    assert validate_include_patterns(None) is None
    assert matches_any("anything.bin", None)


@pytest.mark.parametrize(
    "patterns",
    [
        [],
        ["/etc/*"],
        ["../*"],
        ["a/../../b"],
        [""],
        ["  "],
        ["*[Q4"],
        ["a\\b"],
        ["x\x00"],
        ["x" * 300],
    ],
)
def test_invalid_include_patterns_are_rejected(patterns: list[str]) -> None:
    with pytest.raises(InvalidInput):
        validate_include_patterns(patterns)


def test_a_single_string_is_not_taken_for_a_list_of_patterns() -> None:
    with pytest.raises(InvalidInput, match="list of glob strings"):
        validate_include_patterns("*.gguf")


def test_include_patterns_select_matching_files_case_sensitively() -> None:
    patterns = validate_include_patterns(["*Q4_K_M*", "*.json"])
    assert matches_any("widget.Q4_K_M.gguf", patterns)
    assert matches_any("config.json", patterns)
    assert not matches_any("widget.q4_k_m.gguf", patterns)
    assert not matches_any("widget.Q8_0.gguf", patterns)
