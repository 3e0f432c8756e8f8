"""Answers of a hostile Hub that are not files are read within a byte cap and a deadline,
and cut the moment nobody waits for them (ADR 0200, 0201)."""

import threading
import time
from typing import Any

import pytest

from devon_adapters.huggingface import HuggingFaceSource
from devon_adapters.outbound import AnswerLimits
from devon_app import Settings
from devon_core import SourceUnavailable
from devon_core.results import SearchFilters
from devon_core.stopping import CallStop, stopping_on
from tests.support.hostile_hub import (
    HostileHub,
    endless,
    endless_model_list,
    endless_siblings,
    hostile_hub_fixture,
    json_answer,
    model_record,
    serving_hostile,
)

MIB = 1024 * 1024
MODEL = "hostile/model"
CAP = 1 * MIB
WAIT_S = 30.0


def source_on(hub: HostileHub, **options: Any) -> HuggingFaceSource:
    settings: dict[str, Any] = {
        "token": False,
        "retry_delay": 0.0,
        "cache_ttl": 0.0,
        "limits": AnswerLimits(max_bytes=CAP, timeout_s=WAIT_S),
    }
    return HuggingFaceSource(endpoint=hub.url, **(settings | options))


def search(source: HuggingFaceSource) -> None:
    source.search("model", SearchFilters(), limit=5)


def test_a_model_list_without_end_is_refused_at_the_cap_naming_the_hub(hub: HostileHub) -> None:
    hub.answers["/api/models"] = endless_model_list()
    with pytest.raises(SourceUnavailable) as refused:
        search(source_on(hub))
    assert str(refused.value) == (
        f"DEVON refused what Hugging Face at {hub.url} sent for the request: its answer was "
        "larger than 1.0 MiB, and was cut there (DEVON_MAX_SOURCE_ANSWER sets the limit)"
    )


def test_reading_stops_at_the_cap_and_the_connection_is_closed(hub: HostileHub) -> None:
    hub.answers["/api/models"] = endless_model_list()
    with pytest.raises(SourceUnavailable):
        search(source_on(hub))
    [listing] = hub.asked_for("/api/models")
    wait_for(lambda: listing.hung_up_at is not None, "the Hub to see DEVON hang up")
    # What the Hub could write past the cap is what the two sockets' buffers held.
    assert listing.sent < CAP + 16 * MIB


def test_a_model_record_with_siblings_without_end_is_refused_at_the_cap(
    hub: HostileHub,
) -> None:
    hub.answers[f"/api/models/{MODEL}"] = endless_siblings(MODEL)
    with pytest.raises(SourceUnavailable, match=r"larger than 1\.0 MiB"):
        source_on(hub).info(MODEL)


def test_the_cap_and_the_deadline_are_settings(hub: HostileHub) -> None:
    hub.answers["/api/models"] = endless(b"[", b" ", every_s=0.05)
    hub.answers[f"/api/models/{MODEL}"] = endless_siblings(MODEL)
    settings = Settings.from_env(
        {
            "HF_ENDPOINT": hub.url,
            "DEVON_MAX_SOURCE_ANSWER": "2mb",
            "DEVON_SOURCE_ANSWER_TIMEOUT": "1.5",
            "DEVON_CONFIG_PATH": "",
        }
    )
    source = HuggingFaceSource.from_settings(settings)
    with pytest.raises(SourceUnavailable, match=r"larger than 2\.0 MiB"):
        source.info(MODEL)
    with pytest.raises(SourceUnavailable, match=r"took longer than 1\.5 s"):
        search(source)


def test_a_model_record_listing_more_files_than_the_cap_allows_is_refused_unread(
    hub: HostileHub,
) -> None:
    # 3,000 entries take 60 kB, far under the 1 MiB cap, but would each become objects.
    record = model_record(MODEL, {f"f{i}": 1 for i in range(3000)})
    hub.answers[f"/api/models/{MODEL}"] = json_answer(record)
    with pytest.raises(SourceUnavailable) as refused:
        source_on(hub).info(MODEL)
    assert str(refused.value).endswith(
        "it listed more than 2621 files for one model (one per 400 bytes of "
        "DEVON_MAX_SOURCE_ANSWER)"
    )


def test_an_answer_denser_in_json_values_than_the_cap_allows_is_refused_undecoded(
    hub: HostileHub,
) -> None:
    # 70,000 one-letter tags take 350 kB, under the 1 MiB cap; decoded, several times that.
    hub.answers["/api/models"] = json_answer([{"id": "hostile/model", "tags": ["x"] * 70_000}])
    with pytest.raises(SourceUnavailable) as refused:
        search(source_on(hub))
    assert str(refused.value).endswith(
        "its answer held more than 65536 JSON values (one per 16 bytes of DEVON_MAX_SOURCE_ANSWER)"
    )


def test_an_answer_that_trickles_past_its_deadline_is_refused(hub: HostileHub) -> None:
    hub.answers["/api/models"] = endless(b"[", b" ", every_s=0.05)
    limits = AnswerLimits(max_bytes=CAP, timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as refused:
        search(source_on(hub, limits=limits))
    assert "its whole answer took longer than 1 s (DEVON_SOURCE_ANSWER_TIMEOUT" in str(
        refused.value
    )
    assert time.monotonic() - started < WAIT_S


def test_a_silent_hub_is_cut_at_the_deadline_not_at_the_read_timeout(hub: HostileHub) -> None:
    hub.answers["/api/models"] = endless(b"[", b" ", every_s=3600)
    limits = AnswerLimits(max_bytes=CAP, timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match="took longer than 1 s"):
        search(source_on(hub, limits=limits, timeout=600.0))
    assert time.monotonic() - started < WAIT_S


def test_a_stop_signal_cuts_an_answer_in_the_middle(hub: HostileHub) -> None:
    hub.answers["/api/models"] = endless(b"[", b" ", every_s=3600)
    signal = CallStop()
    failed: list[BaseException] = []

    def run() -> None:
        with stopping_on(signal):
            try:
                search(source_on(hub, timeout=600.0))
            except BaseException as error:
                failed.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(lambda: hub.asked_for("/api/models"), "the search to reach the Hub")
    signal.set()
    thread.join(WAIT_S)
    assert not thread.is_alive()
    assert isinstance(failed[0], SourceUnavailable)
    assert "the request was stopped" in str(failed[0])


def test_an_error_answer_without_end_is_still_its_status(hub: HostileHub) -> None:
    def failing(handler: Any) -> None:
        handler.close_connection = True
        handler.start(503, {"Connection": "close"})
        while True:
            handler.send(b"x" * 65536)

    hub.answers[f"/api/models/{MODEL}"] = failing
    with pytest.raises(SourceUnavailable) as refused:
        source_on(hub).info(MODEL)
    assert str(refused.value) == f"Hugging Face at {hub.url} is unavailable: HTTP 503"


def test_a_next_page_on_another_host_is_refused_and_never_asked(hub: HostileHub) -> None:
    with serving_hostile() as elsewhere:
        elsewhere.answers["/api/models"] = json_answer([])
        other = elsewhere.url.replace("127.0.0.1", "localhost")
        page = [model_record(f"hostile/m{i}", {}) for i in range(2)]
        hub.answers["/api/models"] = json_answer(
            page, headers={"Link": f'<{other}/api/models?cursor=2>; rel="next"'}
        )
        hub.answers["/api/models/hostile/"] = json_answer(model_record(MODEL, {}))
        with pytest.raises(SourceUnavailable) as refused:
            search(source_on(hub, token="hf_secret"))
        assert f"its next page is at {other}, not on the Hub itself" in str(refused.value)
        assert elsewhere.asked == []


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


__all__ = ["hostile_hub_fixture"]  # the fixture `hub`, used by the tests above
