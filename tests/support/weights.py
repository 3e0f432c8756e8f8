"""Small but well-formed weight files (safetensors, GGUF) and a reader of manifest.json that
does what KITT's Quick Test does with it."""

import json
import struct
from pathlib import Path
from typing import Any


def safetensors_bytes(shapes: dict[str, list[int]], dtype: str = "F16") -> bytes:
    """A safetensors file whose tensors have `shapes` and `dtype` (zero-filled; the data's
    length assumes one byte per weight, which readers of the header never check)."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes.items():
        size = 1
        for dimension in shape:
            size *= dimension
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + bytes(offset)


def _gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def gguf_bytes(architecture: str, shapes: dict[str, list[int]]) -> bytes:
    """A GGUF v3 header: `general.architecture`, a token array (skipped by readers), and
    one tensor info per entry of `shapes` (no tensor data: readers only need the header)."""
    kvs = [
        _gguf_string("general.architecture") + struct.pack("<I", 8) + _gguf_string(architecture),
        _gguf_string("tokenizer.ggml.scores")
        + struct.pack("<IIQ", 9, 6, 3)
        + struct.pack("<fff", 0.1, 0.2, 0.3),
        _gguf_string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 2)
        + _gguf_string("a")
        + _gguf_string("b"),
        _gguf_string("general.file_type") + struct.pack("<II", 4, 15),
    ]
    tensors = [
        _gguf_string(name)
        + struct.pack("<I", len(shape))
        + struct.pack("<" + "Q" * len(shape), *shape)
        + struct.pack("<IQ", 12, 0)
        for name, shape in shapes.items()
    ]
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    return head + b"".join(kvs) + b"".join(tensors)


KITT_FORMATS = {
    ".gguf": "gguf",
    ".safetensors": "safetensors",
    ".bin": "pytorch",
    ".pt": "pytorch",
    ".pth": "pytorch",
}


def kitt_read_manifest(models_dir: Path) -> list[dict[str, Any]]:
    """What KITT's Quick Test takes from `<models dir>/manifest.json` (its Model Directory
    setting, `KITT_MODEL_DIR`): for each `"<source>::<model_id>"` key the value's `path`,
    `source`, `size_bytes` and `metadata.format` (a list), falling back to the extensions of
    the files directly in `path` when `format` is empty."""
    data = json.loads((models_dir / "manifest.json").read_text())
    assert isinstance(data, dict)
    models = []
    for key, value in data.items():
        assert key == f"{value['source']}::{value['model_id']}"
        formats = value["metadata"]["format"]
        assert isinstance(formats, list)
        if not formats:  # KITT looks at the files directly in `path`
            formats = sorted(
                {
                    KITT_FORMATS[child.suffix.lower()]
                    for child in Path(value["path"]).iterdir()
                    if child.is_file() and child.suffix.lower() in KITT_FORMATS
                }
            )
        models.append(
            {
                "key": key,
                "path": value["path"],
                "source": value["source"],
                "size_bytes": value["size_bytes"],
                "format": formats,
            }
        )
    return models
