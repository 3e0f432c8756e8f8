"""What a file's name says about it: which weight format it holds, whether it is a model
file at all, whether it is a download still being written. Pure string work, cheap to import
(the vault uses it on every manifest write; the Hugging Face adapter shares the format rule).
"""

from collections.abc import Iterable
from pathlib import PurePosixPath

_PYTORCH_SUFFIXES = (".bin", ".pt", ".pth")
# Training leftovers that share the weights' extensions but are not a model format.
_NOT_WEIGHTS = ("training_args", "optimizer", "scheduler", "rng_state", "tokenizer")

# Weight files of formats DEVON does not filter on but that still make a folder a model.
_OTHER_WEIGHTS = (".ckpt", ".h5", ".msgpack", ".tflite", ".mlmodel", ".ggml", ".llamafile")

HALF_WRITTEN_SUFFIXES = (".part", ".partial", ".incomplete", ".download", ".crdownload", ".tmp")
"""Suffixes of files a download (DEVON 1.x, huggingface_hub, browsers, curl, wget) is still
writing: a folder holding one is not a complete model yet."""


def formats_of(paths: Iterable[str]) -> tuple[str, ...]:
    """Weight formats present among `paths`, sorted: gguf, onnx, pytorch, safetensors."""
    found: set[str] = set()
    for path in paths:
        kind = _format_of(PurePosixPath(path).name.lower())
        if kind:
            found.add(kind)
    return tuple(sorted(found))


def _format_of(name: str) -> str | None:
    if name.endswith(".gguf"):
        return "gguf"
    if name.endswith(".safetensors"):
        return "safetensors"
    if name.endswith((".onnx", ".onnx_data")):
        return "onnx"
    if name.endswith(_PYTORCH_SUFFIXES) and not name.startswith(_NOT_WEIGHTS):
        return "pytorch"
    return None


def is_model_file(path: str) -> bool:
    """Whether `path` holds weights (of a format DEVON knows, or another common one)."""
    name = PurePosixPath(path).name.lower()
    return _format_of(name) is not None or name.endswith(_OTHER_WEIGHTS)


def is_half_written(path: str) -> bool:
    """Whether `path` is a file a download is still writing (`model.safetensors.part`)."""
    return PurePosixPath(path).name.lower().endswith(HALF_WRITTEN_SUFFIXES)
