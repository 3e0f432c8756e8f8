"""What a model's own files say about it, when the Hub cannot be asked."""

import json
import struct
from pathlib import Path

from devon_adapters.huggingface.cached_files import (
    card_license,
    describe_files,
    gguf_header,
    safetensors_parameters,
)


def _string(text: str) -> bytes:
    return struct.pack("<Q", len(text)) + text.encode()


def gguf_bytes(architecture: str, tensors: list[list[int]]) -> bytes:
    entries = [
        _string("general.architecture") + struct.pack("<I", 8) + _string(architecture),
        # an array of strings (a token list) that must be skipped over
        _string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 2)
        + _string("<s>")
        + _string("</s>"),
        _string("general.file_type") + struct.pack("<II", 4, 15),
    ]
    infos = [
        _string(f"t{i}")
        + struct.pack("<I", len(shape))
        + b"".join(struct.pack("<Q", d) for d in shape)
        + struct.pack("<IQ", 0, 0)
        for i, shape in enumerate(tensors)
    ]
    return b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(entries)) + b"".join(entries + infos)


def safetensors_bytes(tensors: dict[str, tuple[str, list[int]]]) -> bytes:
    header = {
        name: {"dtype": d, "shape": s, "data_offsets": [0, 0]} for name, (d, s) in tensors.items()
    }
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw


def test_gguf_header_gives_architecture_and_parameters_from_tensor_shapes(tmp_path: Path) -> None:
    path = tmp_path / "m.Q4_K_M.gguf"
    path.write_bytes(gguf_bytes("llama", [[4096, 32000], [4096]]))

    assert gguf_header(path) == {"architecture": "llama", "total": 4096 * 32000 + 4096}


def test_gguf_header_of_something_else_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"not a gguf file at all")
    assert gguf_header(path) == {}


def test_a_truncated_gguf_header_keeps_what_was_read(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(gguf_bytes("qwen2", [[10, 10]])[:-20])
    assert gguf_header(path) == {"architecture": "qwen2"}


def test_safetensors_parameters_are_counted_by_dtype(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(safetensors_bytes({"a": ("BF16", [1000, 1000]), "b": ("F32", [10])}))
    assert safetensors_parameters(path) == {"BF16": 1_000_000, "F32": 10}


def test_card_license_is_read_from_the_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text("---\nlicense: apache-2.0\ntags:\n- x\n---\n# Model\nlicense: not-this\n")
    assert card_license(path) == "apache-2.0"


def test_describe_files_combines_config_weights_and_names(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mistral"}))
    (tmp_path / "model.safetensors").write_bytes(
        safetensors_bytes({"w": ("BF16", [2_000_000_000])})
    )
    described = describe_files("acme/Thing-7B", tmp_path, ["config.json", "model.safetensors"])
    assert described == {
        "format": ["safetensors"],
        "architecture": "mistral",
        "parameter_count": 2.0,
        "quantization": None,
        "license": None,
    }


def test_describe_files_falls_back_to_the_name_for_the_size(tmp_path: Path) -> None:
    (tmp_path / "m.Q8_0.gguf").write_bytes(gguf_bytes("llama", []))
    described = describe_files("acme/Thing-7B-GGUF", tmp_path, ["m.Q8_0.gguf"])
    assert (described["parameter_count"], described["quantization"]) == (7.0, "Q8_0")
    assert described["architecture"] == "llama"
