"""The default catalogue: a handful of hand-made repos that each exercise one case, plus
generated filler so that searches page through several list pages."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from devon_testhub.content import (
    filler_file,
    gguf_file,
    json_file,
    safetensors_file,
)
from devon_testhub.repos import HubFile, Repo, hub_file, sharded_safetensors

KIB = 1024
EPOCH = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
GATED_REPO = "acme/Gated-Llama-8B"
PRIVATE_REPO = "acme/secret-private-1b"

_TOKENIZER = {"version": "1.0", "model": {"type": "BPE", "vocab": {"<s>": 0, "</s>": 1, "a": 2}}}


def _day(n: int) -> datetime:
    return EPOCH + timedelta(days=n, hours=n % 7, minutes=(n * 13) % 60)


def _config(model_type: str, architecture: str, **extra: Any) -> dict[str, Any]:
    return {"model_type": model_type, "architectures": [architecture], **extra}


def _transformers_files(config: dict[str, Any]) -> list[HubFile]:
    return [
        hub_file("config.json", json_file(config)),
        hub_file("generation_config.json", json_file({"do_sample": True, "temperature": 0.7})),
        hub_file("tokenizer.json", json_file(_TOKENIZER)),
        hub_file("tokenizer_config.json", json_file({"model_max_length": 32768})),
    ]


def _safetensors_info(parameters: dict[str, int]) -> dict[str, Any]:
    return {"parameters": dict(parameters), "total": sum(parameters.values())}


def shardy_7b() -> Repo:
    config = _config("mistral", "MistralForCausalLM", hidden_size=4096, num_hidden_layers=32)
    files = [
        *sharded_safetensors("acme/shardy-7b", [96 * KIB, 96 * KIB, 40 * KIB], 7_241_732_096),
        *_transformers_files(config),
    ]
    return Repo(
        id="acme/shardy-7b",
        files=tuple(files),
        license="apache-2.0",
        downloads=184_203,
        likes=1_204,
        created_at=_day(10),
        last_modified=_day(40),
        safetensors=_safetensors_info({"BF16": 7_241_732_096}),
        config=config,
        extra_tags=("conversational", "text-generation-inference"),
        card_extra={"language": ["en", "fr"]},
    )


WIDGET_QUANTS = {
    "IQ2_XS": 24 * KIB,
    "Q2_K": 28 * KIB,
    "Q3_K_M": 34 * KIB,
    "Q4_K_M": 44 * KIB,
    "Q5_K_M": 52 * KIB,
    "Q6_K": 60 * KIB,
    "Q8_0": 76 * KIB,
    "F16": 128 * KIB,
}


def widget_8b_gguf() -> Repo:
    architecture, context = "llama", 131_072
    files = [
        hub_file(
            f"widget-8b.{quant}.gguf",
            gguf_file(size, f"widget/{quant}", architecture, f"Widget 8B {quant}", context),
        )
        for quant, size in WIDGET_QUANTS.items()
    ]
    # BF16 split in a sub-folder, as large GGUF repos do.
    files += [
        hub_file(
            f"BF16/widget-8b.BF16-0000{i}-of-00002.gguf",
            gguf_file(72 * KIB, f"widget/BF16/{i}", architecture, "Widget 8B BF16", context),
        )
        for i in (1, 2)
    ]
    return Repo(
        id="acme/Widget-8B-GGUF",
        files=tuple(files),
        license="llama3.1",
        library_name="gguf",
        downloads=96_512,
        likes=431,
        created_at=_day(30),
        last_modified=_day(45),
        gguf={
            "total": 8_030_261_248,
            "architecture": architecture,
            "context_length": context,
            "bos_token": "<|begin_of_text|>",
            "eos_token": "<|eot_id|>",
        },
        base_model="acme/Widget-8B",
        extra_tags=("llama", "conversational", "quantized"),
    )


def tiny_instruct() -> Repo:
    """Sub-1B with no safetensors metadata from the Hub: the size must come from the name."""
    config = _config("qwen2", "Qwen2ForCausalLM", hidden_size=896)
    files = [
        hub_file("model.safetensors", safetensors_file(48 * KIB, "tinyco/tiny")),
        *_transformers_files(config),
    ]
    return Repo(
        id="tinyco/Tiny-0.5B-Instruct",
        files=tuple(files),
        license="mit",
        downloads=250_112,
        likes=88,
        created_at=_day(60),
        last_modified=_day(61),
        config=config,
        extra_tags=("conversational",),
    )


def gated_llama() -> Repo:
    config = _config("llama", "LlamaForCausalLM", hidden_size=4096)
    files = [
        *sharded_safetensors(GATED_REPO, [64 * KIB, 32 * KIB], 8_030_261_248),
        *_transformers_files(config),
    ]
    return Repo(
        id=GATED_REPO,
        files=tuple(files),
        license="llama3.1",
        downloads=1_020_400,
        likes=5_120,
        created_at=_day(5),
        last_modified=_day(90),
        gated="manual",
        safetensors=_safetensors_info({"BF16": 8_030_261_248}),
        config=config,
        extra_tags=("llama", "conversational"),
        card_extra={"extra_gated_prompt": "Agree to the Llama 3.1 licence to access this model."},
    )


def legacy_pytorch() -> Repo:
    config = _config("gpt2", "GPT2LMHeadModel", n_layer=24)
    files = [
        hub_file("pytorch_model.bin", filler_file(80 * KIB, "oldco/bin", magic=b"PK\x03\x04")),
        *_transformers_files(config),
    ]
    return Repo(
        id="oldco/legacy-gpt-1.3b",
        files=tuple(files),
        license="mit",
        downloads=5_300,
        likes=12,
        created_at=_day(-300),
        last_modified=_day(-200),
        config=config,
    )


def onnx_embedder() -> Repo:
    files = [
        hub_file("onnx/model.onnx", filler_file(64 * KIB, "onnx/model", magic=b"\x08\x07")),
        hub_file("config.json", json_file(_config("bert", "BertModel"))),
        hub_file("tokenizer.json", json_file(_TOKENIZER)),
    ]
    return Repo(
        id="onnxco/MiniEmbed-ONNX",
        files=tuple(files),
        license="apache-2.0",
        pipeline_tag="feature-extraction",
        library_name="sentence-transformers",
        downloads=40_777,
        likes=64,
        created_at=_day(70),
        last_modified=_day(72),
        config=_config("bert", "BertModel"),
        extra_tags=("sentence-similarity",),
    )


def quantised(repo_id: str, method: str, parameters: dict[str, int], downloads: int) -> Repo:
    quant_configs: dict[str, dict[str, Any]] = {
        "awq": {"quant_method": "awq", "bits": 4, "group_size": 128},
        "gptq": {"quant_method": "gptq", "bits": 4, "group_size": 128},
        "fp8": {"quant_method": "compressed-tensors", "format": "float-quantized"},
    }
    extra = quant_configs[method]
    config = _config("mistral", "MistralForCausalLM", quantization_config=extra)
    files = [
        hub_file("model.safetensors", safetensors_file(56 * KIB, repo_id)),
        *_transformers_files(config),
    ]
    bits_tag = "8-bit" if method == "fp8" else "4-bit"
    return Repo(
        id=repo_id,
        files=tuple(files),
        license="apache-2.0",
        downloads=downloads,
        likes=downloads // 500,
        created_at=_day(50),
        last_modified=_day(52),
        safetensors=_safetensors_info(parameters),
        config=config,
        base_model="acme/shardy-7b",
        extra_tags=(method, bits_tag, "conversational"),
    )


def other_license() -> Repo:
    config = _config("phi3", "Phi3ForCausalLM")
    files = [
        hub_file("model.safetensors", safetensors_file(40 * KIB, "odd")),
        *_transformers_files(config),
    ]
    return Repo(
        id="oddlab/Odd-3.8B-Research",
        files=tuple(files),
        license="other",
        downloads=2_100,
        likes=9,
        created_at=_day(80),
        last_modified=_day(81),
        safetensors=_safetensors_info({"BF16": 3_821_079_552}),
        config=config,
        card_extra={"license_name": "odd-research-license", "license_link": "LICENSE"},
    )


def private_repo() -> Repo:
    files = [hub_file("model.safetensors", safetensors_file(16 * KIB, PRIVATE_REPO))]
    return Repo(id=PRIVATE_REPO, files=tuple(files), private=True, downloads=3)


def legacy_bare_name() -> Repo:
    """A legacy repo id without an owner (like `gpt2` once was)."""
    config = _config("gpt2", "GPT2LMHeadModel")
    files = [
        hub_file("model.safetensors", safetensors_file(24 * KIB, "bare")),
        *_transformers_files(config),
    ]
    return Repo(
        id="legacy-tiny-gpt",
        files=tuple(files),
        license="mit",
        downloads=77_000,
        likes=300,
        created_at=_day(-700),
        last_modified=_day(-100),
        safetensors=_safetensors_info({"F32": 124_439_808}),
        config=config,
    )


_AUTHORS = (
    "northwind",
    "open-lab",
    "bluefin",
    "quanta",
    "lumen-ai",
    "riverstone",
    "acme",
    "tinyco",
)
_FAMILIES = ("Nimbus", "Orca", "Kestrel", "Lynx", "Heron", "Cobalt", "Vega", "Sprout")
_SIZES = (0.5, 1.5, 3.0, 7.0, 8.0, 14.0, 32.0, 70.0)
_LICENSES = ("apache-2.0", "apache-2.0", "mit", "llama3.1", "other", "gemma", "cc-by-nc-4.0")
_OTHER_PIPELINES = ("text-classification", "automatic-speech-recognition", "image-text-to-text")


def _size_label(size: float) -> str:
    return f"{size:g}B"


def filler(index: int, rng: random.Random) -> Repo:
    """One generated repo: mostly text-generation, in safetensors or GGUF, varied numbers."""
    author = _AUTHORS[index % len(_AUTHORS)]
    family = _FAMILIES[(index // 2) % len(_FAMILIES)]
    size = _SIZES[rng.randrange(len(_SIZES))]
    is_gguf = index % 3 == 0
    variant = ("Instruct", "Base", "Chat")[index % 3 if not is_gguf else 0]
    name = f"{family}-{_size_label(size)}-{variant}-v{index}"
    license_id = _LICENSES[rng.randrange(len(_LICENSES))]
    parameters = int(size * 1_000_000_000) + rng.randrange(1, 50_000_000)
    has_metadata = index % 5 != 4
    weight_size = min(int(size * 12 * KIB) + 8 * KIB, 384 * KIB)
    pipeline = "text-generation" if index % 7 != 6 else _OTHER_PIPELINES[index % 3]
    downloads = int(rng.paretovariate(1.1) * 900) + index
    card_extra = {"license_name": f"{author}-license"} if license_id == "other" else {}
    common: dict[str, Any] = {
        "license": license_id,
        "pipeline_tag": pipeline,
        "downloads": downloads,
        "likes": downloads // rng.randrange(40, 400),
        "created_at": _day(rng.randrange(0, 500)),
        "card_extra": card_extra,
    }
    common["last_modified"] = common["created_at"] + timedelta(days=rng.randrange(0, 60))
    if is_gguf:
        repo_id = f"{author}/{name}-GGUF"
        quants = ("Q4_K_M", "Q8_0") if index % 2 else ("Q4_K_M", "Q5_K_M", "Q8_0")
        files: list[HubFile] = [
            hub_file(
                f"{name.lower()}.{quant}.gguf",
                gguf_file(weight_size // 2, f"{repo_id}/{quant}", "llama", name, 8192),
            )
            for quant in quants
        ]
        return Repo(
            id=repo_id,
            files=tuple(files),
            library_name="gguf",
            gguf={"total": parameters, "architecture": "llama", "context_length": 8192}
            if has_metadata
            else None,
            extra_tags=("conversational",),
            **common,
        )
    config = _config("llama", "LlamaForCausalLM")
    weights: list[HubFile]
    if weight_size > 160 * KIB:
        half = weight_size // 2
        weights = sharded_safetensors(f"{author}/{name}", [half, weight_size - half], parameters)
    else:
        weights = [hub_file("model.safetensors", safetensors_file(weight_size, f"{author}/{name}"))]
    return Repo(
        id=f"{author}/{name}",
        files=(*weights, *_transformers_files(config)),
        safetensors=_safetensors_info({"BF16": parameters}) if has_metadata else None,
        config=config,
        **common,
    )


FILLER_COUNT = 56


def build_default_repos() -> list[Repo]:
    rng = random.Random(20_241_127)  # deterministic on purpose, not for security
    hand_made = [
        shardy_7b(),
        widget_8b_gguf(),
        tiny_instruct(),
        gated_llama(),
        legacy_pytorch(),
        onnx_embedder(),
        quantised("acme/shardy-7b-AWQ", "awq", {"I32": 879_230_976, "F16": 333_455_360}, 31_000),
        quantised(
            "acme/shardy-7b-GPTQ-Int4", "gptq", {"I32": 879_230_976, "F16": 333_455_360}, 12_400
        ),
        quantised(
            "acme/Widget-8B-FP8", "fp8", {"F8_E4M3": 6_979_321_856, "BF16": 1_050_939_392}, 8_800
        ),
        other_license(),
        private_repo(),
        legacy_bare_name(),
    ]
    return hand_made + [filler(i, rng) for i in range(FILLER_COUNT)]
