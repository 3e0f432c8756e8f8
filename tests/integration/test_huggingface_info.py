"""`info` through the real huggingface_hub client: what DEVON reads from the Hub's answer for
each kind of repo, and how refusals and failures come out."""

import re
import threading
import time
from collections.abc import Callable

import pytest

from devon_core import Forbidden, InvalidInput, NotFound, SourceUnavailable
from devon_core.stopping import CallStop, stopping_on
from devon_testhub import GATED_REPO, PRIVATE_REPO, TestHub
from tests.support.hf_helpers import LEGACY, ONNX, SHARDY, TINY, WIDGET, source_for


def test_sharded_safetensors_model_is_fully_described(test_hub: TestHub) -> None:
    model = source_for(test_hub).info(SHARDY)
    repo = test_hub.catalogue[SHARDY]
    assert model.parameter_count == 7.24
    assert model.format == ("safetensors",)
    assert model.architecture == "mistral"
    assert model.quantization is None
    assert model.license == "apache-2.0"
    assert model.revision == repo.sha
    assert model.file_count == len(repo.files) == 10
    assert model.total_size_bytes == sum(f.size for f in repo.files)
    shards = [f for f in model.files if f.path.startswith("model-000")]
    assert [f.sha256 for f in shards] == [repo.file(f.path).sha256 for f in shards]  # type: ignore[union-attr]


def test_non_lfs_files_carry_no_sha256(test_hub: TestHub) -> None:
    files = {f.path: f for f in source_for(test_hub).info(SHARDY).files}
    assert files["config.json"].sha256 is None
    assert files["config.json"].size_bytes == test_hub.catalogue[SHARDY].file("config.json").size  # type: ignore[union-attr]


def test_multi_quant_gguf_repo_lists_every_quantisation(test_hub: TestHub) -> None:
    model = source_for(test_hub).info(WIDGET)
    assert model.format == ("gguf",)
    assert model.quantization == "IQ2_XS,Q2_K,Q3_K_M,Q4_K_M,Q5_K_M,Q6_K,Q8_0,BF16,F16"
    assert model.parameter_count == 8.03
    assert model.architecture == "llama"
    assert "BF16/widget-8b.BF16-00001-of-00002.gguf" in {f.path for f in model.files}


def test_sub_billion_model_without_hub_counts_reads_its_size_from_the_name(
    test_hub: TestHub,
) -> None:
    model = source_for(test_hub).info(TINY)
    assert model.parameter_count == 0.5
    assert model.architecture == "qwen2"
    assert model.license == "mit"


def test_pytorch_only_model(test_hub: TestHub) -> None:
    model = source_for(test_hub).info(LEGACY)
    assert model.format == ("pytorch",)
    assert model.parameter_count == 1.3
    assert model.architecture == "gpt2"


def test_onnx_model_in_a_sub_folder(test_hub: TestHub) -> None:
    model = source_for(test_hub).info(ONNX)
    assert model.format == ("onnx",)
    assert model.parameter_count is None
    assert "feature-extraction" in model.tags


def test_awq_model_reports_its_scheme_and_the_named_size(test_hub: TestHub) -> None:
    model = source_for(test_hub).info("acme/shardy-7b-AWQ")
    assert model.quantization == "AWQ"
    assert model.parameter_count == 7.0


def test_urls_are_on_the_configured_endpoint(test_hub: TestHub) -> None:
    model = source_for(test_hub).info(SHARDY)
    assert model.web_url == f"{test_hub.url}/{SHARDY}"
    assert model.repo_url == f"{test_hub.url}/{SHARDY}/tree/main"


def test_timestamps_are_utc_iso_strings(test_hub: TestHub) -> None:
    model = source_for(test_hub).info(SHARDY)
    assert model.created_at == "2024-03-11T15:10:00.000000+00:00"
    assert model.updated_at.endswith("+00:00")


def test_missing_model_is_not_found(test_hub: TestHub) -> None:
    with pytest.raises(NotFound, match="acme/no-such-model"):
        source_for(test_hub).info("acme/no-such-model")


def test_private_model_without_token_is_not_found_with_a_token_hint(test_hub: TestHub) -> None:
    with pytest.raises(NotFound, match="HF_TOKEN"):
        source_for(test_hub).info(PRIVATE_REPO)


def test_private_model_is_visible_with_the_right_token(test_hub: TestHub) -> None:
    assert source_for(test_hub, token=test_hub.token).info(PRIVATE_REPO).model_id == PRIVATE_REPO


def test_gated_metadata_without_access_is_forbidden_with_a_token_hint(
    session_test_hub: TestHub,
) -> None:
    session_test_hub.reset()
    session_test_hub.gate_metadata = True
    try:
        with pytest.raises(Forbidden, match="HF_TOKEN"):
            source_for(session_test_hub).info(GATED_REPO)
        with pytest.raises(Forbidden, match="HF_TOKEN"):
            source_for(session_test_hub, token="wrong-token").info(GATED_REPO)
        allowed = source_for(session_test_hub, token=session_test_hub.token).info(GATED_REPO)
        assert allowed.model_id == GATED_REPO
    finally:
        session_test_hub.gate_metadata = False


def test_invalid_model_id_is_refused_before_any_request(test_hub: TestHub) -> None:
    with pytest.raises(InvalidInput):
        source_for(test_hub).info("../etc/passwd")
    assert test_hub.stats.count() == 0


def test_hub_error_is_source_unavailable_naming_the_endpoint(test_hub: TestHub) -> None:
    test_hub.faults.fail_requests(500, times=5)
    with pytest.raises(SourceUnavailable, match=re.escape(test_hub.url) + ".*HTTP 500"):
        source_for(test_hub).info(SHARDY)


def test_unreachable_hub_is_source_unavailable() -> None:
    from devon_adapters.huggingface import HuggingFaceSource

    source = HuggingFaceSource(endpoint="http://127.0.0.1:9", token=False, timeout=2)
    with pytest.raises(SourceUnavailable, match=re.escape("http://127.0.0.1:9")):
        source.info(SHARDY)


def test_endpoint_and_name(test_hub: TestHub) -> None:
    source = source_for(test_hub)
    assert source.name == "huggingface"
    assert source.endpoint == test_hub.url


def test_a_stop_cuts_a_request_still_waiting_for_its_answer_on_a_kept_alive_connection(
    test_hub: TestHub,
) -> None:
    source = source_for(test_hub, timeout=60.0)
    source.info(WIDGET)  # leaves its connection in the pool for the next request
    test_hub.faults.hang(f"/api/models/{SHARDY}")  # taken, never answered
    signal = CallStop()
    failed: list[BaseException] = []

    def ask() -> None:
        with stopping_on(signal), pytest.raises(SourceUnavailable) as caught:
            source.info(SHARDY)
        failed.append(caught.value)

    thread = threading.Thread(target=ask)
    thread.start()
    wait_until(lambda: test_hub.faults.held == 1)
    signal.set()
    thread.join(5.0)  # the cut takes a moment; only the read timeout (60 s) ends it otherwise
    wait_until(lambda: test_hub.faults.held == 0)

    assert not thread.is_alive()
    assert "the request was stopped" in str(failed[0])
    [hung] = test_hub.stats.requests(f"/api/models/{SHARDY}")
    assert hung.reused  # it went out on the connection the request before kept alive
    assert not hung.completed


def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)
