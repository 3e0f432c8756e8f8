"""Properties of clean, for any vault, request and moment."""

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from devon_core import CleanResult, Devon, LocalModel
from tests.support.fakes import FakeSource, MemoryStore, SettableClock
from tests.support.strategies import nows, vaults

days_values = st.integers(min_value=0, max_value=1000)
requests = st.fixed_dictionaries(
    {"unused": st.booleans(), "days": days_values, "all": st.booleans()}
)


def _devon(models: list[LocalModel], now: datetime) -> tuple[Devon, MemoryStore]:
    store = MemoryStore()
    for model in models:
        store.add(model)
    return Devon(source=FakeSource(), store=store, clock=SettableClock(now)), store


def _clean(
    models: list[LocalModel], now: datetime, **request: object
) -> tuple[CleanResult, MemoryStore]:
    devon, store = _devon(models, now)
    return devon.clean(**request), store  # type: ignore[arg-type]


@given(vaults(), nows, requests)
def test_dry_run_reports_exactly_what_the_real_run_removes(
    models: list[LocalModel], now: datetime, request: dict[str, object]
) -> None:
    dry, untouched = _clean(models, now, dry_run=True, **request)
    real, _ = _clean(models, now, dry_run=False, **request)
    assert dry.models == real.models
    assert dry.freed_bytes == real.freed_bytes
    assert dry.dry_run
    assert not real.dry_run
    assert len(untouched.list()) == len(models)


@given(vaults(), nows, days_values)
def test_unused_never_removes_a_model_touched_within_days(
    models: list[LocalModel], now: datetime, days: int
) -> None:
    result, _ = _clean(models, now, unused=True, days=days)
    cutoff = now - timedelta(days=days)
    by_key = {m.key: m for m in models}
    assert all(by_key[key].reference_time < cutoff for key in result.models)
    kept_but_stale = [m for m in models if m.reference_time < cutoff and m.key not in result.models]
    assert kept_but_stale == []


@given(vaults(), nows, st.booleans(), days_values)
def test_all_empties_the_vault(
    models: list[LocalModel], now: datetime, unused: bool, days: int
) -> None:
    result, store = _clean(models, now, all=True, unused=unused, days=days)
    assert store.list() == []
    assert result.removed == len(models)


@given(vaults(), nows, requests)
def test_removed_and_kept_partition_the_vault(
    models: list[LocalModel], now: datetime, request: dict[str, object]
) -> None:
    result, store = _clean(models, now, **request)
    kept = {m.key for m in store.list()}
    removed = set(result.models)
    assert kept.isdisjoint(removed)
    assert kept | removed == {m.key for m in models}
    assert len(result.models) == len(removed)


@given(vaults(), nows, requests)
def test_a_second_identical_clean_removes_nothing(
    models: list[LocalModel], now: datetime, request: dict[str, object]
) -> None:
    devon, _ = _devon(models, now)
    devon.clean(**request)  # type: ignore[arg-type]
    again = devon.clean(**request)  # type: ignore[arg-type]
    assert again.models == ()
    assert again.freed_bytes == 0


@given(vaults(), nows, days_values, days_values)
def test_a_larger_days_never_removes_more(
    models: list[LocalModel], now: datetime, days: int, more: int
) -> None:
    shorter, longer = sorted((days, more))
    removed_short, _ = _clean(models, now, unused=True, days=shorter, dry_run=True)
    removed_long, _ = _clean(models, now, unused=True, days=longer, dry_run=True)
    assert set(removed_long.models) <= set(removed_short.models)


@given(vaults(), nows, requests)
def test_freed_bytes_is_the_sum_of_the_removed_sizes(
    models: list[LocalModel], now: datetime, request: dict[str, object]
) -> None:
    result, _ = _clean(models, now, **request)
    sizes = {m.key: m.size_bytes for m in models}
    assert result.freed_bytes == sum(sizes[key] for key in result.models)
    assert result.removed == len(result.models)


@given(vaults(), nows, days_values)
def test_neither_flag_removes_nothing(models: list[LocalModel], now: datetime, days: int) -> None:
    result, store = _clean(models, now, days=days)
    assert result.models == ()
    assert len(store.list()) == len(models)


@given(vaults(with_local=True), nows, requests)
def test_a_clean_naming_no_source_never_removes_a_local_model_and_reports_each_it_spared(
    models: list[LocalModel], now: datetime, request: dict[str, object]
) -> None:
    result, store = _clean(models, now, **request)
    named, _ = _clean(models, now, source="local", **request)
    assert not any(key.startswith("local/") for key in result.models)
    assert {m.key for m in store.list() if m.source == "local"} == {
        m.key for m in models if m.source == "local"
    }
    assert set(result.skipped_local) == set(named.models)


@given(vaults(with_local=True), nows, requests, st.sampled_from(["local", "huggingface"]))
def test_a_clean_naming_a_source_removes_only_that_sources_models(
    models: list[LocalModel], now: datetime, request: dict[str, object], source: str
) -> None:
    result, store = _clean(models, now, source=source, **request)
    assert all(key.startswith(f"{source}/") for key in result.models)
    assert {m.key for m in store.list() if m.source != source} == {
        m.key for m in models if m.source != source
    }
    assert result.skipped_local == ()
