"""What a model's own files say about it, for when the Hub cannot be asked: `config.json`,
the safetensors headers, the GGUF headers and the model card's front matter.

The same rules as the Hub's description (`metadata.py`) apply to what is read here: the
architecture is the config's `model_type`, else the GGUF `general.architecture`; the
parameter count is a count `config.json` states (`num_parameters` and the like), else the
safetensors total, else the GGUF total, else read from the name. Only headers are read,
never the weights. Used for models adopted from the Hugging Face cache and for folders a
vault scan registers (`devon_adapters.model_files.inference`).
"""

import json
import math
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from devon_adapters.huggingface.metadata import (
    PACKED_DTYPES,
    architecture_of,
    quantization_of,
)
from devon_adapters.huggingface.names import formats_of, parameters_from_name, round_billions
from devon_core.models import model_name_of

MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
MAX_GGUF_COUNT = 10_000_000

_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_GGUF_SCALARS |= {10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def describe_files(model_id: str, directory: Path, paths: Sequence[str]) -> dict[str, Any]:
    """`format`, `architecture`, `parameter_count` (billions), `quantization` and `license`
    of the model whose files `paths` lie under `directory`."""
    config = _json_object(directory / "config.json") if "config.json" in paths else {}
    weights = [p for p in paths if p.endswith(".safetensors")]
    dtypes: dict[str, int] = {}
    for path in weights:
        for dtype, count in safetensors_parameters(directory / path).items():
            dtypes[dtype] = dtypes.get(dtype, 0) + count
    gguf: dict[str, Any] = {}
    for path in sorted(p for p in paths if p.endswith(".gguf")):
        header = gguf_header(directory / path)
        gguf.setdefault("architecture", header.get("architecture"))
        gguf["total"] = max(gguf.get("total", 0), header.get("total", 0))
    return {
        "format": list(formats_of(paths)),
        "architecture": architecture_of(config, gguf, ()),
        "parameter_count": _parameters(model_id, config, dtypes, gguf.get("total", 0)),
        "quantization": quantization_of(model_id, paths, (), config),
        "license": card_license(directory / "README.md") if "README.md" in paths else None,
    }


_CONFIG_COUNT_KEYS = ("num_parameters", "n_params", "parameter_count", "num_params")


def _parameters(
    model_id: str, config: dict[str, Any], dtypes: dict[str, int], gguf_total: int
) -> float | None:
    for key in _CONFIG_COUNT_KEYS:
        stated = config.get(key)
        if isinstance(stated, int) and not isinstance(stated, bool) and stated > 0:
            return round_billions(stated)
    from_name = parameters_from_name(model_name_of(model_id))
    total = sum(dtypes.values())
    if total > 0:
        if PACKED_DTYPES.intersection(dtypes) and from_name is not None:
            return from_name
        return round_billions(total)
    if gguf_total > 0:
        return round_billions(gguf_total)
    return from_name


def safetensors_parameters(path: Path) -> dict[str, int]:
    """Parameters by dtype in a safetensors file's header (empty when unreadable)."""
    try:
        with open(path, "rb") as stream:
            (length,) = struct.unpack("<Q", stream.read(8))
            if length > MAX_SAFETENSORS_HEADER:
                return {}
            header = json.loads(stream.read(length))
    except (OSError, struct.error, ValueError):
        return {}
    counts: dict[str, int] = {}
    if not isinstance(header, dict):
        return counts
    for name, tensor in header.items():
        if name == "__metadata__" or not isinstance(tensor, dict):
            continue
        shape, dtype = tensor.get("shape"), tensor.get("dtype")
        if isinstance(shape, list) and all(isinstance(d, int) for d in shape) and dtype:
            counts[str(dtype)] = counts.get(str(dtype), 0) + math.prod(shape)
    return counts


def gguf_header(path: Path) -> dict[str, Any]:
    """`architecture` and `total` (parameters, from the tensor shapes) of a GGUF file (v2/v3),
    whatever of them could be read; empty when it is not GGUF."""
    found: dict[str, Any] = {}
    try:
        with open(path, "rb") as stream:
            if stream.read(4) != b"GGUF":
                return found
            version, tensors, entries = struct.unpack("<IQQ", stream.read(20))
            if version < 2 or tensors > MAX_GGUF_COUNT or entries > MAX_GGUF_COUNT:
                return found
            for _ in range(entries):
                key = _gguf_string(stream)
                value = _gguf_value(stream, _unpack(stream, "<I"))
                if key == "general.architecture" and isinstance(value, str):
                    found["architecture"] = value
            total = 0
            for _ in range(tensors):
                _gguf_string(stream)
                dims = _unpack(stream, "<I")
                shape = [_unpack(stream, "<Q") for _ in range(dims)]
                stream.read(12)  # type (u32) and offset (u64)
                total += math.prod(shape)
            if total:
                found["total"] = total
    except (OSError, struct.error, ValueError, UnicodeDecodeError):
        pass
    return found


def _unpack(stream: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = stream.read(size)
    if len(data) != size:
        raise ValueError("truncated GGUF header")
    return struct.unpack(fmt, data)[0]


def _gguf_string(stream: BinaryIO) -> str:
    length = _unpack(stream, "<Q")
    if length > MAX_SAFETENSORS_HEADER:
        raise ValueError("GGUF string too long")
    return stream.read(length).decode()


def _gguf_value(stream: BinaryIO, kind: int) -> Any:
    if kind in _GGUF_SCALARS:
        return _unpack(stream, _GGUF_SCALARS[kind])
    if kind == _GGUF_STRING:
        return _gguf_string(stream)
    if kind == _GGUF_ARRAY:
        item_kind, count = _unpack(stream, "<I"), _unpack(stream, "<Q")
        if count > MAX_GGUF_COUNT:
            raise ValueError("GGUF array too long")
        for _ in range(count):
            _gguf_value(stream, item_kind)  # arrays (token lists) are skipped
        return None
    raise ValueError(f"unknown GGUF value type {kind}")


_LICENSE_LINE = re.compile(r"^license:\s*(\S+)\s*$")


def card_license(path: Path) -> str | None:
    """The `license:` of a model card's YAML front matter."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if not lines or lines[0].strip() != "---":
        return None
    for line in lines[1:]:
        if line.strip() == "---":
            break
        match = _LICENSE_LINE.match(line)
        if match:
            return match.group(1).strip("'\"")
    return None


def _json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
