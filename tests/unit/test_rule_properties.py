"""Properties of the pure vault rules themselves, called directly: no store sorts or filters
for them, so each property pins the rule down (the exact cutoff, any input order, days 0,
an empty vault)."""

from datetime import datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from devon_core import CleanRequest, ExportEntry, ExportFormat, LocalModel
from devon_core.rules import build_export, select_for_clean
from tests.support.strategies import local_models, nows, vaults

days_values = st.integers(min_value=0, max_value=1000)
microseconds_around = st.integers(min_value=-3, max_value=3)


def _unused(days: int) -> CleanRequest:
    return CleanRequest(unused=True, days=days, all=False, dry_run=False)


def _referenced_at(model: LocalModel, when: datetime) -> LocalModel:
    return attrs.evolve(model, downloaded_at=when, last_used=None)


@given(local_models(), nows, days_values, microseconds_around)
def test_unused_removes_a_model_exactly_when_it_was_last_touched_before_the_cutoff(
    model: LocalModel, now: datetime, days: int, offset: int
) -> None:
    cutoff = now - timedelta(days=days)
    touched = _referenced_at(model, cutoff + timedelta(microseconds=offset))

    removed = select_for_clean([touched], _unused(days), now)

    assert (removed == [touched]) == (offset < 0)


@given(local_models(), nows, microseconds_around)
def test_days_zero_removes_everything_not_touched_at_this_very_moment_or_later(
    model: LocalModel, now: datetime, offset: int
) -> None:
    touched = _referenced_at(model, now + timedelta(microseconds=offset))
    assert bool(select_for_clean([touched], _unused(0), now)) == (offset < 0)


@given(local_models(), nows, days_values)
def test_last_used_wins_over_downloaded_at_as_the_reference_time(
    model: LocalModel, now: datetime, days: int
) -> None:
    cutoff = now - timedelta(days=days)
    old_but_used = attrs.evolve(model, downloaded_at=cutoff - timedelta(days=1), last_used=cutoff)
    assert select_for_clean([old_but_used], _unused(days), now) == []


@given(vaults(), nows, days_values, st.randoms(use_true_random=False))
def test_the_selection_does_not_depend_on_the_input_order(
    models: list[LocalModel], now: datetime, days: int, shuffler: object
) -> None:
    shuffled = list(models)
    shuffler.shuffle(shuffled)  # type: ignore[attr-defined]

    forward = select_for_clean(models, _unused(days), now)
    backward = select_for_clean(shuffled, _unused(days), now)

    assert {m.key for m in forward} == {m.key for m in backward}


@given(nows, days_values, st.booleans())
def test_an_empty_vault_selects_nothing(now: datetime, days: int, everything: bool) -> None:
    request = CleanRequest(unused=True, days=days, all=everything, dry_run=False)
    assert select_for_clean([], request, now) == []


@given(vaults(), st.randoms(use_true_random=False))
def test_export_is_sorted_by_source_then_id_whatever_the_input_order(
    models: list[LocalModel], shuffler: object
) -> None:
    shuffled = list(models)
    shuffler.shuffle(shuffled)  # type: ignore[attr-defined]
    expected = sorted(models, key=lambda m: (m.source, m.model_id))

    kitt = build_export(shuffled, ExportFormat.KITT)
    entries = build_export(shuffled, ExportFormat.JSON).content

    assert list(kitt.paths) == [m.path for m in expected]
    assert kitt.content == "".join(f"{m.path}\n" for m in expected)
    assert [(e.source, e.model_id) for e in entries if isinstance(e, ExportEntry)] == [
        (m.source, m.model_id) for m in expected
    ]


@given(st.sampled_from(list(ExportFormat)))
def test_the_export_of_an_empty_vault_is_empty(export_format: ExportFormat) -> None:
    result = build_export([], export_format)
    assert result.count == 0
    assert list(result.content) == []
