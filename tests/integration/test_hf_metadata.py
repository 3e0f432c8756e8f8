"""How a Hub model description becomes DEVON's RemoteModel: pure rules, no server."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devon_adapters.huggingface.hub import model_info_from_json
from devon_adapters.huggingface.metadata import remote_model
from devon_adapters.huggingface.names import (
    formats_of,
    gguf_quantizations,
    parameters_from_name,
    round_billions,
)


def hub_json(model_id: str = "acme/widget-7b", **fields: Any) -> dict[str, Any]:
    """A `/api/models/{id}?blobs=true` answer with sensible defaults; override any key."""
    base: dict[str, Any] = {
        "id": model_id,
        "author": model_id.split("/")[0] if "/" in model_id else None,
        "sha": "a" * 40,
        "downloads": 10,
        "likes": 2,
        "tags": ["transformers", "safetensors", "text-generation", "license:apache-2.0"],
        "pipeline_tag": "text-generation",
        "createdAt": "2024-03-11T15:10:00.000Z",
        "lastModified": "2024-04-10T17:40:00.000Z",
        "cardData": {"license": "apache-2.0"},
        "siblings": [
            {"rfilename": "config.json", "size": 100},
            {
                "rfilename": "model.safetensors",
                "size": 5000,
                "lfs": {"size": 5000, "sha256": "b" * 64, "pointerSize": 130},
            },
        ],
    }
    return base | fields


def model_from(**fields: Any) -> Any:
    return remote_model(model_info_from_json(hub_json(**fields)))


def siblings(*names: str) -> list[dict[str, Any]]:
    return [{"rfilename": name, "size": 10} for name in names]


# --- parameter counts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "billions"),
    [
        ("Qwen2.5-0.5B", 0.5),
        ("Qwen2.5-7B-Instruct", 7.0),
        ("Llama-3.1-8B-Instruct", 8.0),
        ("gemma-2-2b-it", 2.0),
        ("SmolLM-135M", 0.135),
        ("Qwen2-1.5B", 1.5),
        ("mistral-7b-v0.1", 7.0),
        ("Mixtral-8x7B-v0.1", 56.0),
        ("Qwen2.5-7B-Instruct-1M", 7.0),
        ("Meta-Llama-3-70B", 70.0),
    ],
)
def test_parameter_count_is_read_from_the_size_token_of_the_name(
    name: str, billions: float
) -> None:
    assert parameters_from_name(name) == billions


@pytest.mark.parametrize(
    "name", ["phi-3-mini", "gpt2", "bert-base-uncased", "Qwen2.5-Coder", "model-4bit", "bf16"]
)
def test_names_without_a_size_token_give_no_parameter_count(name: str) -> None:
    assert parameters_from_name(name) is None


_WORD = st.text(alphabet="abcdefghijklnopqrsuvwyz", min_size=1, max_size=8)


@given(
    prefix=st.lists(_WORD, max_size=3),
    suffix=st.lists(_WORD, max_size=3),
    number=st.decimals(min_value="0.1", max_value="999", places=1),
    unit=st.sampled_from(["b", "B"]),
)
def test_a_billions_token_anywhere_in_the_name_is_the_parameter_count(
    prefix: list[str], suffix: list[str], number: Any, unit: str
) -> None:
    name = "-".join([*prefix, f"{number}{unit}", *suffix])
    assert parameters_from_name(name) == pytest.approx(float(number))


@given(st.integers(min_value=100_000_000, max_value=10**13))
def test_rounded_counts_are_within_half_a_hundredth_of_a_billion(parameters: int) -> None:
    assert abs(round_billions(parameters) - parameters / 1e9) <= 0.005 + 1e-9


@given(st.integers(min_value=1, max_value=10**13))
def test_rounded_counts_never_reach_zero(parameters: int) -> None:
    assert round_billions(parameters) > 0


def test_hub_safetensors_total_wins_over_the_name_rounded_to_two_decimals() -> None:
    model = model_from(safetensors={"parameters": {"BF16": 7_615_616_512}, "total": 7_615_616_512})
    assert model.parameter_count == 7.62


def test_gguf_total_is_used_when_there_is_no_safetensors_total() -> None:
    model = model_from(model_id="acme/Widget-GGUF", gguf={"total": 8_030_261_248})
    assert model.parameter_count == 8.03


def test_sub_billion_model_without_hub_counts_takes_its_size_from_the_name() -> None:
    assert model_from(model_id="tinyco/Tiny-0.5B-Instruct").parameter_count == 0.5


def test_packed_quantised_weights_defer_to_the_name() -> None:
    packed = {"parameters": {"I32": 879_230_976, "F16": 333_455_360}, "total": 1_212_686_336}
    assert model_from(model_id="acme/shardy-7b-AWQ", safetensors=packed).parameter_count == 7.0


def test_packed_weights_without_a_size_in_the_name_keep_the_hub_count() -> None:
    packed = {"parameters": {"I32": 879_230_976, "F16": 333_455_360}, "total": 1_212_686_336}
    assert model_from(model_id="acme/shardy-AWQ", safetensors=packed).parameter_count == 1.21


# --- formats and quantisation -----------------------------------------------------------


def test_formats_come_from_file_extensions_sorted() -> None:
    paths = ["model.safetensors", "onnx/model.onnx", "pytorch_model.bin", "w.gguf", "a.pt"]
    assert formats_of(paths) == ("gguf", "onnx", "pytorch", "safetensors")


def test_training_leftovers_do_not_make_a_repo_pytorch() -> None:
    assert formats_of(["model.safetensors", "training_args.bin", "optimizer.pt"]) == (
        "safetensors",
    )


def test_one_gguf_quantisation_is_reported_as_is() -> None:
    model = model_from(siblings=siblings("widget.Q4_K_M.gguf", "README.md"))
    assert model.quantization == "Q4_K_M"
    assert model.format == ("gguf",)


def test_many_gguf_quantisations_are_joined_from_fewest_bits_to_most() -> None:
    names = ["w.Q8_0.gguf", "w-q4_k_m.gguf", "w.IQ2_XS.gguf", "BF16/w.BF16-00001-of-00002.gguf"]
    assert gguf_quantizations(names) == ["IQ2_XS", "Q4_K_M", "Q8_0", "BF16"]


def test_quantisation_method_of_the_config_names_awq_and_gptq() -> None:
    config = {"model_type": "mistral", "quantization_config": {"quant_method": "gptq"}}
    assert model_from(config=config).quantization == "GPTQ"


def test_bitsandbytes_config_reports_its_bit_width() -> None:
    config = {"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": True}}
    assert model_from(config=config).quantization == "BNB-4BIT"


def test_quantisation_scheme_in_the_name_is_used_without_config() -> None:
    assert model_from(model_id="acme/widget-7b-FP8").quantization == "FP8"


def test_unquantised_model_has_no_quantization() -> None:
    assert model_from().quantization is None


# --- architecture, license, tags --------------------------------------------------------


def test_architecture_is_the_config_model_type() -> None:
    assert model_from(config={"model_type": "qwen2"}).architecture == "qwen2"


def test_architecture_falls_back_to_gguf_then_to_a_known_tag() -> None:
    assert model_from(gguf={"architecture": "llama"}).architecture == "llama"
    assert model_from(tags=["gguf", "mistral", "region:us"]).architecture == "mistral"
    assert model_from(tags=["gguf"]).architecture is None


def test_license_comes_from_the_card_then_from_a_license_tag() -> None:
    assert model_from(cardData={"license": "mit"}).license == "mit"
    assert model_from(cardData=None, tags=["license:llama3.1"]).license == "llama3.1"
    assert model_from(cardData=None, tags=[]).license is None


def test_pipeline_tag_is_among_the_tags_so_the_task_filter_sees_it() -> None:
    model = model_from(tags=["transformers"], pipeline_tag="feature-extraction")
    assert "feature-extraction" in model.tags


# --- identity, urls, files, times -------------------------------------------------------


def test_files_sizes_and_lfs_hashes_describe_the_revision() -> None:
    model = model_from()
    assert [(f.path, f.size_bytes, f.sha256) for f in model.files] == [
        ("config.json", 100, None),
        ("model.safetensors", 5000, "b" * 64),
    ]
    assert (model.total_size_bytes, model.file_count) == (5100, 2)
    assert model.revision == "a" * 40


def test_urls_use_the_configured_endpoint_as_base() -> None:
    info = model_info_from_json(hub_json("acme/widget-7b"))
    model = remote_model(info, "http://127.0.0.1:9000/")
    assert model.web_url == "http://127.0.0.1:9000/acme/widget-7b"
    assert model.repo_url == "http://127.0.0.1:9000/acme/widget-7b/tree/main"


def test_default_urls_point_at_huggingface_co() -> None:
    assert model_from().web_url == "https://huggingface.co/acme/widget-7b"


def test_timestamps_are_iso_8601_utc_with_microseconds() -> None:
    model = model_from()
    assert model.created_at == "2024-03-11T15:10:00.000000+00:00"
    assert model.updated_at == "2024-04-10T17:40:00.000000+00:00"


def test_legacy_bare_id_has_no_author_and_its_name_is_the_id() -> None:
    model = model_from(model_id="gpt2", author=None)
    assert (model.author, model.model_name) == (None, "gpt2")
