"""Metadata of a model folder nobody described: read from its files alone.

- `format`: from file extensions (`model_files.formats_of`);
- `architecture`: `config.json`'s `model_type`, else the GGUF header's `general.architecture`;
- `quantization`: GGUF quantisation labels in file names, else `config.json`'s
  `quantization_config`, else a scheme named in the folder's name (`-AWQ`, `-GPTQ`);
- `parameter_count` (billions): a count `config.json` states, else the sum of the tensor
  shapes in the safetensors headers, else in the GGUF headers, else the folder's name.

Every value found this way is marked: the metadata carries `"inferred": true`. Headers are
read with hard limits, so a damaged or hostile file costs little and yields no value.
"""

import json
import math
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from devon_adapters.huggingface.metadata import PACKED_DTYPES
from devon_adapters.huggingface.names import (
    gguf_quantizations,
    parameters_from_name,
    round_billions,
    scheme_quantization,
)
from devon_adapters.model_files import formats_of

MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_GGUF_ITEMS = 10_000_000
_CONFIG_COUNT_KEYS = ("num_parameters", "n_params", "parameter_count", "num_params")


def infer_metadata(directory: Path, files: Iterable[str], name: str) -> dict[str, Any]:
    """The metadata of the model in `directory` (holding `files`, relative POSIX paths),
    whose folder is called `name`."""
    paths = sorted(files)
    config = _read_config(directory, paths)
    gguf_files = [p for p in paths if p.lower().endswith(".gguf")]
    gguf = _gguf_summary([directory / p for p in gguf_files])
    architecture = config.get("model_type") or gguf.get("architecture")
    return {
        "format": list(formats_of(paths)),
        "architecture": architecture if isinstance(architecture, str) else None,
        "quantization": _quantization(paths, config, name),
        "parameter_count": _parameters(directory, paths, config, gguf, name),
        "inferred": True,
    }


def _read_config(directory: Path, paths: list[str]) -> Mapping[str, Any]:
    if "config.json" not in paths:
        return {}
    try:
        with open(directory / "config.json", "rb") as file:
            data = json.loads(file.read(MAX_CONFIG_BYTES + 1)[:MAX_CONFIG_BYTES])
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _quantization(paths: list[str], config: Mapping[str, Any], name: str) -> str | None:
    labels = gguf_quantizations(paths)
    if labels:
        return ",".join(labels)
    settings = config.get("quantization_config")
    if isinstance(settings, dict):
        method = settings.get("quant_method")
        if isinstance(method, str) and method:
            if method == "bitsandbytes":
                return "BNB-4BIT" if settings.get("load_in_4bit") else "BNB-8BIT"
            return method.upper()
    return scheme_quantization([name])


def _parameters(
    directory: Path,
    paths: list[str],
    config: Mapping[str, Any],
    gguf: Mapping[str, Any],
    name: str,
) -> float | None:
    for key in _CONFIG_COUNT_KEYS:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return round_billions(value)
    from_name = parameters_from_name(PurePosixPath(name).name)
    tensors = [directory / p for p in paths if p.lower().endswith(".safetensors")]
    counts = [_safetensors_parameters(path) for path in tensors]
    if counts and all(count is not None for count in counts):
        total = sum(count for count, _ in filter(None, counts))
        packed = any(dtypes & PACKED_DTYPES for _, dtypes in filter(None, counts))
        if packed and from_name is not None:
            return from_name  # int4 weights packed in I32/U8 count far below the real size
        if total > 0:
            return round_billions(total)
    if gguf.get("parameters"):
        return round_billions(int(gguf["parameters"]))
    return from_name


def _safetensors_parameters(path: Path) -> tuple[int, set[str]] | None:
    """The number of weights in one safetensors file, and their dtypes: its header is an
    8-byte little-endian length followed by that much JSON mapping tensor names to their
    `dtype` and `shape`."""
    try:
        with open(path, "rb") as file:
            prefix = file.read(8)
            if len(prefix) != 8:
                return None
            (length,) = struct.unpack("<Q", prefix)
            if length > MAX_SAFETENSORS_HEADER:
                return None
            header = json.loads(file.read(length))
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict):
        return None
    total = 0
    dtypes: set[str] = set()
    for tensor, description in header.items():
        if tensor == "__metadata__":
            continue
        shape = description.get("shape") if isinstance(description, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
            return None
        total += math.prod(shape)
        dtypes.add(str(description.get("dtype")))
    return total, dtypes


def _gguf_summary(paths: list[Path]) -> dict[str, Any]:
    """`architecture` and the summed `parameters` of GGUF files (split GGUFs add up; several
    quantisations of one model do not: the largest count is taken per file name group)."""
    summary: dict[str, Any] = {}
    counts: list[int] = []
    for path in paths:
        try:
            architecture, parameters = _read_gguf(path)
        except (OSError, ValueError, struct.error, UnicodeDecodeError):
            continue
        if architecture and "architecture" not in summary:
            summary["architecture"] = architecture
        counts.append(parameters)
    if counts:
        # Several quantisations of one model each hold all of it; shards of one file hold
        # parts. Shards are named `-00001-of-00003`: sum those, else take the largest.
        shards = [c for p, c in zip(paths, counts, strict=True) if "-of-" in p.name]
        summary["parameters"] = sum(shards) if shards else max(counts)
    return summary


_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_GGUF_SCALARS.update({10: "<Q", 11: "<q", 12: "<d"})
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def _read_gguf(path: Path) -> tuple[str | None, int]:
    """The `general.architecture` and the number of weights (sum over the tensor infos) of
    a GGUF file, read from its header (version 2 or 3)."""
    with open(path, "rb") as file:
        if file.read(4) != b"GGUF":
            raise ValueError("not a GGUF file")
        (version,) = _unpack(file, "<I")
        if version not in (2, 3):
            raise ValueError(f"GGUF version {version} is not read")
        tensor_count, kv_count = _unpack(file, "<QQ")
        if tensor_count > MAX_GGUF_ITEMS or kv_count > MAX_GGUF_ITEMS:
            raise ValueError("GGUF header too large")
        architecture = None
        for _ in range(kv_count):
            key = _gguf_string(file)
            (kind,) = _unpack(file, "<I")
            value = _gguf_value(file, kind)
            if key == "general.architecture" and isinstance(value, str):
                architecture = value
        total = 0
        for _ in range(tensor_count):
            _gguf_string(file)
            (dimensions,) = _unpack(file, "<I")
            if dimensions > 8:
                raise ValueError("GGUF tensor with too many dimensions")
            shape = _unpack(file, "<" + "Q" * dimensions)
            _unpack(file, "<IQ")  # type, offset
            total += math.prod(shape)
        return architecture, total


def _unpack(file: BinaryIO, layout: str) -> tuple[Any, ...]:
    size = struct.calcsize(layout)
    data = file.read(size)
    if len(data) != size:
        raise ValueError("GGUF header ends early")
    return struct.unpack(layout, data)


def _gguf_string(file: BinaryIO) -> str:
    (length,) = _unpack(file, "<Q")
    if length > MAX_CONFIG_BYTES:
        raise ValueError("GGUF string too long")
    data = file.read(length)
    if len(data) != length:
        raise ValueError("GGUF header ends early")
    return data.decode("utf-8")


def _gguf_value(file: BinaryIO, kind: int) -> object:
    if kind in _GGUF_SCALARS:
        return _unpack(file, _GGUF_SCALARS[kind])[0]
    if kind == _GGUF_STRING:
        return _gguf_string(file)
    if kind == _GGUF_ARRAY:
        item_kind, count = _unpack(file, "<IQ")
        if count > MAX_GGUF_ITEMS:
            raise ValueError("GGUF array too long")
        if item_kind in _GGUF_SCALARS:  # skipped without reading item by item
            file.seek(struct.calcsize(_GGUF_SCALARS[item_kind]) * count, 1)
        else:
            for _ in range(count):
                _gguf_value(file, item_kind)
        return None
    raise ValueError(f"unknown GGUF value type {kind}")
