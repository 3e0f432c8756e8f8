"""Search through the real huggingface_hub client against the test hub: every filter applied,
pages followed until exactly `limit` results match, sizes real."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devon_adapters.huggingface import HuggingFaceSource
from devon_core import RemoteModel, SearchFilters, SourceUnavailable
from devon_testhub import PRIVATE_REPO, TestHub
from tests.support.hf_helpers import SHARDY, WIDGET, source_for

GIB = 1024**3
KIB = 1024


def search(
    hub: TestHub, query: str | None = None, limit: int = 20, **filters: str
) -> list[RemoteModel]:
    return source_for(hub).search(query, SearchFilters.parse(**filters), limit)


def test_results_are_sorted_by_downloads_descending(test_hub: TestHub) -> None:
    results = search(test_hub, limit=30)
    downloads = [m.downloads for m in results]
    assert len(results) == 30
    assert downloads == sorted(downloads, reverse=True)


def test_every_result_has_the_real_size_and_file_count_of_its_revision(test_hub: TestHub) -> None:
    for model in search(test_hub, limit=10):
        repo = test_hub.catalogue[model.model_id]
        assert model.total_size_bytes == sum(f.size for f in repo.files) > 0
        assert model.file_count == len(repo.files)


def test_query_matches_model_ids(test_hub: TestHub) -> None:
    results = search(test_hub, "shardy")
    expected = {SHARDY, "acme/shardy-7b-AWQ", "acme/shardy-7b-GPTQ-Int4"}
    assert {m.model_id for m in results} == expected


def test_provider_filter_keeps_only_that_author(test_hub: TestHub) -> None:
    results = search(test_hub, provider="ACME", limit=50)
    expected = {r.id for r in test_hub.catalogue if r.author == "acme" and not r.private}
    assert {m.model_id for m in results} == expected


def test_params_filter_applies_to_hub_counts_and_name_derived_counts(test_hub: TestHub) -> None:
    results = search(test_hub, params="<=1b", limit=50)
    assert results
    assert all(m.parameter_count is not None and m.parameter_count <= 1 for m in results)
    assert "tinyco/Tiny-0.5B-Instruct" in {m.model_id for m in results}


def test_bare_params_value_matches_within_twenty_percent(test_hub: TestHub) -> None:
    results = search(test_hub, params="8b", limit=50)
    assert results
    assert all(6.4 <= (m.parameter_count or 0) <= 9.6 for m in results)


def test_size_filter_uses_the_total_size_of_a_repo_without_quantisations(
    test_hub: TestHub,
) -> None:
    small = [m for m in search(test_hub, size="<100kb", limit=50) if not m.quantizations]
    large = [m for m in search(test_hub, size=">=100kb", limit=50) if not m.quantizations]
    assert small
    assert large
    assert all(m.total_size_bytes < 100 * KIB for m in small)
    assert all(m.total_size_bytes >= 100 * KIB for m in large)
    assert not {m.model_id for m in small} & {m.model_id for m in large}


def test_size_filter_matches_a_gguf_repo_when_one_quantisation_fits(test_hub: TestHub) -> None:
    # acme/Widget-8B-GGUF totals about 590 KB; its Q4_K_M file is 44 KB.
    found = {m.model_id: m for m in search(test_hub, size="<50kb", format="gguf", limit=50)}
    assert WIDGET in found
    assert "Q4_K_M" in [q.name for q in found[WIDGET].quantizations]


def test_quant_filter_finds_repos_holding_that_quantisation(test_hub: TestHub) -> None:
    results = search(test_hub, quant="iq2_xs", limit=50)
    assert [m.model_id for m in results] == [WIDGET]


def test_each_quantisation_of_a_gguf_repo_carries_its_size_and_files(test_hub: TestHub) -> None:
    (widget,) = [m for m in search(test_hub, "widget", format="gguf") if m.model_id == WIDGET]
    by_name = {q.name: q for q in widget.quantizations}
    assert by_name["Q4_K_M"].size_bytes == 44 * KIB
    assert by_name["Q4_K_M"].files == ("widget-8b.Q4_K_M.gguf",)
    assert by_name["BF16"].files == (
        "BF16/widget-8b.BF16-00001-of-00002.gguf",
        "BF16/widget-8b.BF16-00002-of-00002.gguf",
    )
    assert by_name["BF16"].size_bytes == 144 * KIB


@pytest.mark.parametrize("fmt", ["gguf", "safetensors", "pytorch", "onnx"])
def test_format_filter_keeps_models_with_files_of_that_format(test_hub: TestHub, fmt: str) -> None:
    results = search(test_hub, format=fmt, limit=50)
    assert results
    assert all(fmt in m.format for m in results)


def test_task_filter_keeps_models_tagged_with_the_task(test_hub: TestHub) -> None:
    results = search(test_hub, task="feature-extraction", limit=50)
    assert [m.model_id for m in results] == ["onnxco/MiniEmbed-ONNX"]


def test_license_filter_is_applied(test_hub: TestHub) -> None:
    results = search(test_hub, license="MIT", limit=50)
    expected = {r.id for r in test_hub.catalogue if r.license == "mit" and not r.private}
    assert {m.model_id for m in results} == expected


def test_filters_combine(test_hub: TestHub) -> None:
    results = search(test_hub, format="gguf", params="<=8.5b", license="apache-2.0", limit=50)
    assert results
    for model in results:
        assert "gguf" in model.format
        assert model.license == "apache-2.0"
        assert model.parameter_count is not None
        assert model.parameter_count <= 8.5


def test_filtered_search_pages_through_the_hub_until_exactly_limit_match(
    test_hub: TestHub,
) -> None:
    results = search(test_hub, params="<=8b", limit=20)
    assert len(results) == 20
    assert all(m.parameter_count is not None and m.parameter_count <= 8 for m in results)
    list_pages = [r for r in test_hub.stats.requests("/api/models") if r.path == "/api/models"]
    assert len(list_pages) >= 2


def test_search_reads_no_more_list_pages_than_allowed(test_hub: TestHub) -> None:
    source = source_for(test_hub, page_size=5, max_list_pages=2)

    results = source.search(None, SearchFilters(), 50)

    assert len(results) == 10
    assert [r.path for r in test_hub.stats.requests("/api/models")].count("/api/models") == 2


def test_search_returns_what_exists_when_fewer_than_limit_match(test_hub: TestHub) -> None:
    results = search(test_hub, "widget", limit=200)
    assert {m.model_id for m in results} == {"acme/Widget-8B-GGUF", "acme/Widget-8B-FP8"}


def test_details_are_fetched_only_for_the_candidates_needed(test_hub: TestHub) -> None:
    search(test_hub, limit=5)
    details = [r for r in test_hub.stats.requests("/api/models/", "GET")]
    assert len(details) == 5


def test_private_models_are_not_listed_without_a_token(test_hub: TestHub) -> None:
    results = search(test_hub, "secret", limit=10)
    assert PRIVATE_REPO not in {m.model_id for m in results}


def test_hub_answering_errors_mid_search_is_source_unavailable(test_hub: TestHub) -> None:
    test_hub.faults.fail_requests(503, times=1000, path_contains="/api/models", skip=1)
    with pytest.raises(SourceUnavailable, match=test_hub.url):
        search(test_hub, params="<=8b", limit=20)


def test_hub_dropping_connections_is_source_unavailable(test_hub: TestHub) -> None:
    test_hub.faults.drop_connections(times=1000, path_contains="/api/models")
    with pytest.raises(SourceUnavailable, match="connection"):
        search(test_hub, limit=5)


def test_hub_hanging_times_out_as_source_unavailable(test_hub: TestHub) -> None:
    test_hub.faults.hang("/api/models")
    with pytest.raises(SourceUnavailable, match="timed out"):
        source_for(test_hub, timeout=0.3).search(None, SearchFilters(), 5)


class _NotAHub(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>a captive portal, not the Hub</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def not_a_hub() -> Iterator[str]:
    """A server on loopback that answers every request with an HTML page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotAHub)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_endpoint_answering_garbage_is_source_unavailable(not_a_hub: str) -> None:
    source = HuggingFaceSource(endpoint=not_a_hub, token=False)
    with pytest.raises(SourceUnavailable, match="not the Hub's API"):
        source.search(None, SearchFilters(), 5)
    with pytest.raises(SourceUnavailable, match=not_a_hub):
        source.info("acme/shardy-7b")
