"""The example JSON of each response in the spec (DEVON 1.x's REST API reference, restated in
docs/http-api.md), written down as the spec shows it.

The tests compare every real response's keys and JSON types against these."""

from typing import Any

REMOTE_MODEL: dict[str, Any] = {
    "source": "huggingface",
    "model_id": "meta-llama/Llama-3.1-8B-Instruct",
    "model_name": "Llama-3.1-8B-Instruct",
    "author": "meta-llama",
    "total_size_bytes": 16106127360,
    "file_count": 5,
    "parameter_count": 8,
    "architecture": "llama",
    "format": ["safetensors"],
    "quantization": None,
    "tags": ["text-generation"],
    "license": "llama3.1",
    "downloads": 985000,
    "likes": 2400,
    "created_at": "2024-07-23T10:00:00+00:00",
    "updated_at": "2024-12-01T08:30:00+00:00",
    "web_url": "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct",
    "repo_url": "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/tree/main",
    # Additive (COORD, ADR 0170): each GGUF quantisation; empty for other repos.
    "quantizations": [],
}

LOCAL_MODEL: dict[str, Any] = {
    "source": "huggingface",
    "model_id": "Qwen/Qwen2.5-7B-Instruct",
    "path": "/data/models/huggingface/Qwen/Qwen2.5-7B-Instruct",
    "size_bytes": 14495514624,
    "downloaded_at": "2025-02-12T14:30:00.123456",
    "last_used": None,
    "files": ["model.safetensors", "config.json", "tokenizer.json"],
    "metadata": {},
}

HEALTH: dict[str, Any] = {"status": "ok", "version": "1.0.0"}

SEARCH: dict[str, Any] = {
    "query": "llama",
    "source": "huggingface",
    "count": 3,
    "results": [REMOTE_MODEL],
}

MODELS: dict[str, Any] = {"count": 1, "models": [LOCAL_MODEL]}

INFO: dict[str, Any] = {
    # Additive (ADR 0237): the GGUF quantisations the vault's copy holds; empty for others.
    "local": LOCAL_MODEL | {"files": [], "quantizations": []},
    "remote": REMOTE_MODEL,
}

DELETED: dict[str, Any] = {
    "deleted": True,
    "model_id": "Qwen/Qwen2.5-7B-Instruct",
    "source": "huggingface",
}

DOWNLOADED: dict[str, Any] = {
    "model_id": "Qwen/Qwen2.5-7B-Instruct",
    "source": "huggingface",
    "path": "/data/models/huggingface/Qwen/Qwen2.5-7B-Instruct",
    "files": ["model.safetensors", "config.json"],
    "size_bytes": 14495514624,
}

STATUS: dict[str, Any] = {
    "model_count": 3,
    "total_size_bytes": 94371840000,
    "storage_path": "/data/models",
    "sources": {"huggingface": {"count": 3, "size_bytes": 94371840000}},
    "staging_bytes": 0,  # additive (ADR 0173): bytes unfinished downloads hold
    "partial_bytes": 0,  # additive (ADR 0236): bytes that arrived for them
}

CLEANED: dict[str, Any] = {
    "removed": 2,
    "freed_bytes": 28991029248,
    "dry_run": False,
    "models": [
        "huggingface/Qwen/Qwen2.5-7B-Instruct",
        "huggingface/meta-llama/Llama-3.2-3B-Instruct",
    ],
}

EXPORT_KITT: dict[str, Any] = {
    "format": "kitt",
    "count": 2,
    "content": [
        "/data/models/huggingface/Qwen/Qwen2.5-7B-Instruct",
        "/data/models/huggingface/meta-llama/Llama-3.1-8B-Instruct",
    ],
}

EXPORT_JSON: dict[str, Any] = {
    "format": "json",
    "count": 1,
    "content": [
        {
            "source": "huggingface",
            "model_id": "Qwen/Qwen2.5-7B-Instruct",
            "path": "/data/models/huggingface/Qwen/Qwen2.5-7B-Instruct",
            "size_bytes": 14495514624,
            "downloaded_at": "2025-02-12T14:30:00.123456",
            "files": ["model.safetensors", "config.json"],
        }
    ],
}

ERROR: dict[str, Any] = {"detail": "Error description here"}
