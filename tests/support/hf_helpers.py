"""Shared builders for the Hugging Face source's contract tests."""

import hashlib
from pathlib import Path
from typing import Any

from devon_adapters.huggingface import HuggingFaceSource
from devon_testhub import TestHub

SHARDY = "acme/shardy-7b"
WIDGET = "acme/Widget-8B-GGUF"
TINY = "tinyco/Tiny-0.5B-Instruct"
LEGACY = "oldco/legacy-gpt-1.3b"
ONNX = "onnxco/MiniEmbed-ONNX"


def source_for(hub: TestHub, **options: Any) -> HuggingFaceSource:
    """A source on the test hub: no token unless given, no waiting between retries, no
    detail cache shared between tests."""
    settings: dict[str, Any] = {"token": False, "retry_delay": 0.0, "cache_ttl": 0.0}
    return HuggingFaceSource(endpoint=hub.url, **(settings | options))


def hub_bytes(hub: TestHub, model_id: str, path: str) -> bytes:
    item = hub.catalogue[model_id].file(path)
    assert item is not None, f"{model_id} has no {path}"
    return item.content.read()


def files_under(root: Path) -> dict[str, bytes]:
    """Every model file under `root` (not download state) by POSIX path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".cache" not in p.relative_to(root).parts
    }


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
