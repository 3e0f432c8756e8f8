"""Clean with a `days` beyond the calendar (found by schemathesis through the HTTP API)."""

from devon_core.results import CleanRequest
from devon_core.rules import select_for_clean
from tests.support.fakes import T0, local_model


def test_unused_with_more_days_than_the_calendar_holds_selects_nothing() -> None:
    request = CleanRequest(unused=True, days=10**12)
    assert select_for_clean([local_model()], request, T0) == []


def test_unused_with_days_reaching_past_year_one_selects_nothing() -> None:
    request = CleanRequest(unused=True, days=800_000)
    assert select_for_clean([local_model()], request, T0) == []
