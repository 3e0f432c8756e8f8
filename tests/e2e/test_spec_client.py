"""Black-box contract test: the served DEVON API against its HTTP contract (docs/http-api.md).

Written as an outside client developer who has only the spec (DEVON 1.x's REST API
reference, restated in docs/http-api.md with what DEVON decided): the real server runs as a
subprocess (`python -m devon_cli serve`), pointed at the test hub with `HF_ENDPOINT`, and is
driven with `SpecClient` through the user's journey, without and with an API key, then
through each documented error status. Every response's field names and JSON types are checked
against the spec's own examples, written down below.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from devon_testhub import TestHub
from tests.support.spec_client import (
    DownloadResult,
    LocalModel,
    SearchResult,
    SpecClient,
    SpecError,
)

# --- the spec's examples, as restated in docs/http-api.md -----------------------------------

HEALTH_EXAMPLE: dict[str, Any] = {"status": "ok", "version": "1.0.0"}

SEARCH_RESULT_EXAMPLE: dict[str, Any] = {
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
}
SEARCH_EXAMPLE: dict[str, Any] = {
    "query": "llama",
    "source": "huggingface",
    "count": 3,
    "results": [SEARCH_RESULT_EXAMPLE],
}

LOCAL_MODEL_EXAMPLE: dict[str, Any] = {
    "source": "huggingface",
    "model_id": "Qwen/Qwen2.5-7B-Instruct",
    "path": "/data/models/huggingface/Qwen/Qwen2.5-7B-Instruct",
    "size_bytes": 14495514624,
    "downloaded_at": "2025-02-12T14:30:00.123456",
    "last_used": None,
    "files": ["model.safetensors", "config.json", "tokenizer.json"],
    "metadata": {},
}
MODEL_LIST_EXAMPLE: dict[str, Any] = {"count": 1, "models": [LOCAL_MODEL_EXAMPLE]}

MODEL_INFO_EXAMPLE: dict[str, Any] = {
    "local": {
        "source": "huggingface",
        "model_id": "Qwen/Qwen2.5-7B-Instruct",
        "path": "/data/models/huggingface/Qwen/Qwen2.5-7B-Instruct",
        "size_bytes": 14495514624,
        "downloaded_at": "2025-02-12T14:30:00.123456",
        "last_used": None,
        "files": [],
        "metadata": {},
    },
    "remote": {
        "source": "huggingface",
        "model_id": "Qwen/Qwen2.5-7B-Instruct",
        "model_name": "Qwen2.5-7B-Instruct",
        "author": "Qwen",
        "total_size_bytes": 14495514624,
        "file_count": 8,
        "parameter_count": 7,
        "architecture": "qwen",
        "format": ["safetensors"],
        "quantization": None,
        "tags": [],
        "license": "apache-2.0",
        "downloads": 892000,
        "likes": 1800,
        "created_at": "",
        "updated_at": "",
        "web_url": "https://huggingface.co/Qwen/Qwen2.5-7B-Instruct",
        "repo_url": "https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/tree/main",
    },
}

DELETE_EXAMPLE: dict[str, Any] = {
    "deleted": True,
    "model_id": "Qwen/Qwen2.5-7B-Instruct",
    "source": "huggingface",
}

DOWNLOAD_EXAMPLE: dict[str, Any] = {
    "model_id": "Qwen/Qwen2.5-7B-Instruct",
    "source": "huggingface",
    "path": "/data/models/huggingface/Qwen/Qwen2.5-7B-Instruct",
    "files": ["model.safetensors", "config.json"],
    "size_bytes": 14495514624,
}

STATUS_EXAMPLE: dict[str, Any] = {
    "model_count": 3,
    "total_size_bytes": 94371840000,
    "storage_path": "/data/models",
    "sources": {"huggingface": {"count": 3, "size_bytes": 94371840000}},
}

CLEAN_EXAMPLE: dict[str, Any] = {
    "removed": 2,
    "freed_bytes": 28991029248,
    "dry_run": False,
    "models": [
        "huggingface/Qwen/Qwen2.5-7B-Instruct",
        "huggingface/meta-llama/Llama-3.2-3B-Instruct",
    ],
}

EXPORT_KITT_EXAMPLE: dict[str, Any] = {
    "format": "kitt",
    "count": 2,
    "content": [
        "/data/models/huggingface/Qwen/Qwen2.5-7B-Instruct",
        "/data/models/huggingface/meta-llama/Llama-3.1-8B-Instruct",
    ],
}
EXPORT_JSON_EXAMPLE: dict[str, Any] = {
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

ERROR_EXAMPLE: dict[str, Any] = {"detail": "Error description here"}
UNAUTHORIZED_BODY: dict[str, Any] = {"detail": "Invalid or missing API key"}

# Where an example's value cannot tell the type (it is null), or where null is the only
# honest value for some models (no author for a bare legacy id, no parameter count or
# architecture in the hub's metadata), the allowed JSON types are written here.
# `parameter_count` is "a number" (docs/http-api.md: billions, `8`, `0.5`), not only an int.
FIELD_TYPES: dict[str, set[str]] = {
    "query": {"string", "null"},
    "quantization": {"string", "null"},
    "last_used": {"string", "null"},
    "author": {"string", "null"},
    "architecture": {"string", "null"},
    "license": {"string", "null"},
    "parameter_count": {"int", "float", "null"},
}
# Fields DEVON adds to the spec's shapes (docs/http-api.md, marked *added*): allowed
# beside the spec's own, never instead of one.
ADDITIVE_FIELDS = {
    "quantizations",
    "staging_bytes",
    "partial_bytes",
    "partial_models",
    "partial_freed_bytes",
}
# Free-form objects: only "is an object" is checked (`metadata` is `{}` in the spec).
FREE_FORM = {"metadata"}
# Maps keyed by a name (`sources`): each value must look like the example's first value.
KEYED_MAPS = {"sources"}

# docs/library.md: timestamps are ISO 8601 in UTC, with offset and microseconds.
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")

SOURCE = "huggingface"
TINY = "tinyco/Tiny-0.5B-Instruct"  # mit, 0.5B, safetensors
WIDGET = "acme/Widget-8B-GGUF"  # llama3.1, GGUF quantisations
WIDGET_PATTERN = "*Q4_K_M*"
SHARDY = "acme/shardy-7b"  # apache-2.0, 3 safetensors shards
UNKNOWN = "nobody/no-such-model"
PRIVATE = "acme/secret-private-1b"  # invisible without the hub's token


# --- type checks -------------------------------------------------------------------------------


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise AssertionError(f"not a JSON value: {value!r}")


def check_shape(actual: object, example: object, where: str = "$") -> None:
    """`actual` has the example's field names (exactly) and JSON types, recursively."""
    expected = json_type(example)
    got = json_type(actual)
    assert got == expected, f"{where}: expected {expected}, got {got} ({actual!r})"
    if isinstance(example, dict):
        assert isinstance(actual, dict)
        assert set(actual) - ADDITIVE_FIELDS == set(example), (
            f"{where}: fields {sorted(actual)} differ from the spec's {sorted(example)}"
        )
        for key, example_value in example.items():
            value = actual[key]
            here = f"{where}.{key}"
            if key in FIELD_TYPES:
                assert json_type(value) in FIELD_TYPES[key], (
                    f"{here}: {json_type(value)} is not one of {sorted(FIELD_TYPES[key])}"
                )
                if json_type(value) == json_type(example_value):
                    check_shape(value, example_value, here)
            elif key in FREE_FORM:
                assert isinstance(value, dict), f"{here}: not an object: {value!r}"
            elif key in KEYED_MAPS:
                assert isinstance(value, dict), f"{here}: not an object: {value!r}"
                item_example = next(iter(example_value.values()))
                for name, item in value.items():
                    check_shape(item, item_example, f"{here}[{name!r}]")
            else:
                check_shape(value, example_value, here)
    elif isinstance(example, list) and example:
        assert isinstance(actual, list)
        for i, item in enumerate(actual):
            check_shape(item, example[0], f"{where}[{i}]")


def check_timestamp(value: object, where: str) -> None:
    assert isinstance(value, str), f"{where}: {value!r}"
    assert TIMESTAMP.match(value), f"{where}: {value!r} is not ISO 8601 UTC with offset and µs"


def check_error(
    call: Callable[[], object], status: int, detail_contains: str | None = None
) -> SpecError:
    """`call` fails with `status`; the client has already checked the `{"detail": str}` body."""
    with pytest.raises(SpecError) as info:
        call()
    error = info.value
    assert error.status == status, f"expected {status}, got {error.status}: {error.detail}"
    assert error.detail.strip(), "an error's detail says what was wrong"
    if detail_contains is not None:
        assert detail_contains in error.detail, error.detail
    return error


# --- value checks shared by the journey ----------------------------------------------------


def files_on_disk(path: Path) -> dict[str, int]:
    """Regular files under `path`, as POSIX paths relative to it, with their sizes."""
    return {
        p.relative_to(path).as_posix(): p.stat().st_size
        for p in path.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def check_model_on_disk(
    entry: DownloadResult | LocalModel | Mapping[str, Any], storage: Path, where: str
) -> None:
    path = Path(entry["path"])
    assert path.is_absolute(), f"{where}: path {path} is not absolute"
    # docs/vault.md: files of a model at <storage>/<source>/<model_id>/.
    assert path == storage / entry["source"] / entry["model_id"], f"{where}: {path}"
    assert path.is_dir(), f"{where}: {path} does not exist"
    files = entry["files"]
    assert files, f"{where}: no files"
    assert files == sorted(files), f"{where}: files not sorted: {files}"
    on_disk = files_on_disk(path)
    assert set(files) == set(on_disk), (
        f"{where}: files {files} are not exactly what is under {path}: {sorted(on_disk)}"
    )
    assert entry["size_bytes"] == sum(on_disk.values()), (
        f"{where}: size_bytes {entry['size_bytes']} != {sum(on_disk.values())} on disk"
    )


def check_search_result(result: SearchResult, where: str) -> None:
    check_shape(result, SEARCH_RESULT_EXAMPLE, where)
    assert result["source"] == SOURCE
    owner, _, name = result["model_id"].rpartition("/")
    assert result["model_name"] == name, where
    if owner:
        assert result["author"] == owner, where
    assert result["web_url"].endswith("/" + result["model_id"]), where
    assert result["total_size_bytes"] >= 0
    assert result["file_count"] >= 0
    for field in ("created_at", "updated_at"):
        if result[field]:  # "" is what the spec shows when unknown
            check_timestamp(result[field], f"{where}.{field}")


# --- the served API ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served_devon(
    hub_url: str,
    storage: Path,
    log: Path,
    api_key: str | None = None,
    hf_token: str | None = None,
) -> Iterator[str]:
    """`python -m devon_cli serve` on a free port; yields its base URL once /health answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVON_")}
    env |= {"DEVON_STORAGE_PATH": str(storage), "HF_ENDPOINT": hub_url}
    env.pop("HF_TOKEN", None)
    if hf_token is not None:
        env["HF_TOKEN"] = hf_token
    if api_key is not None:
        env["DEVON_API_KEY"] = api_key
    base_url = f"http://127.0.0.1:{port}"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "devon_cli", "serve", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 15
            while True:
                if process.poll() is not None:
                    raise AssertionError(f"server exited: {log.read_text(errors='replace')}")
                try:
                    if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"no /health: {log.read_text(errors='replace')}")
                time.sleep(0.05)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- the journey -------------------------------------------------------------------------------


def check_search(client: SpecClient) -> dict[str, SearchResult]:
    """Search with each filter; returns the results seen, by model id."""
    seen: dict[str, SearchResult] = {}

    def search(**params: Any) -> list[SearchResult]:
        answer = client.search(**params)
        check_shape(answer, SEARCH_EXAMPLE, f"search{params}")
        assert answer["source"] == SOURCE
        assert answer["query"] == params.get("query")
        assert answer["count"] == len(answer["results"])
        assert answer["count"] <= params.get("limit", 20)
        downloads = [r["downloads"] for r in answer["results"]]
        assert downloads == sorted(downloads, reverse=True), "sorted by downloads, descending"
        for i, result in enumerate(answer["results"]):
            check_search_result(result, f"search{params}.results[{i}]")
            seen[result["model_id"]] = result
        return answer["results"]

    results = search(query="shardy", limit=5)
    assert SHARDY in [r["model_id"] for r in results]
    assert all("shardy" in r["model_id"].lower() for r in results)

    assert len(search()) == 20  # the default limit; the catalogue has more
    assert len(search(limit=3)) == 3

    results = search(format="gguf", limit=50)
    assert WIDGET in [r["model_id"] for r in results]
    assert all("gguf" in r["format"] for r in results)

    # docs/http-api.md: a bare value matches within ±20%; parameter_count is in billions.
    results = search(params="7b", limit=50)
    assert SHARDY in [r["model_id"] for r in results]
    for r in results:
        assert r["parameter_count"] is not None
        assert 7 * 0.8 <= r["parameter_count"] <= 7 * 1.2, r
    results = search(params="<=1b", limit=50)
    assert TINY in [r["model_id"] for r in results]
    assert all(r["parameter_count"] is not None and r["parameter_count"] <= 1 for r in results)

    # docs/http-api.md: size units are powers of 1024; a GGUF repo matches by one of its
    # quantisations (the additive `quantizations`, ADR 0170), any other repo by its total.
    results = search(size="<60kb", limit=50)
    assert TINY in [r["model_id"] for r in results]
    for r in results:
        added: dict[str, Any] = dict(r)  # `quantizations` is DEVON's, not the spec's
        sizes = [q["size_bytes"] for q in added["quantizations"]] or [r["total_size_bytes"]]
        assert min(sizes) < 60 * 1024, r

    results = search(license="mit", limit=50)
    assert TINY in [r["model_id"] for r in results]
    assert all(r["license"] == "mit" for r in results)

    results = search(provider="acme", limit=50)
    assert {SHARDY, WIDGET} <= {r["model_id"] for r in results}
    assert all(r["author"] == "acme" and r["model_id"].startswith("acme/") for r in results)

    results = search(format="safetensors", params="8b", license="llama3.1", limit=5)
    assert 0 < len(results) <= 5
    for r in results:
        assert "safetensors" in r["format"]
        assert r["license"] == "llama3.1"
        assert r["parameter_count"] is not None
        assert 6.4 <= r["parameter_count"] <= 9.6
    return seen


def run_journey(client: SpecClient, storage: Path) -> None:
    health = client.health()
    check_shape(health, HEALTH_EXAMPLE, "health")
    assert health["status"] == "ok"
    assert health["version"] == importlib.metadata.version("devon")

    seen = check_search(client)

    # An empty vault.
    empty = client.list_models()
    check_shape(empty, MODEL_LIST_EXAMPLE, "models")
    assert empty == {"count": 0, "models": []}

    # Download: plain, and with include_patterns.
    downloads: dict[str, DownloadResult] = {}
    for model_id in (TINY, SHARDY):
        result = client.download(model_id)
        check_shape(result, DOWNLOAD_EXAMPLE, f"download {model_id}")
        assert (result["model_id"], result["source"]) == (model_id, SOURCE)
        check_model_on_disk(result, storage, f"download {model_id}")
        downloads[model_id] = result
    # docs/http-api.md: search's total_size_bytes and file_count are what a download fetches.
    assert downloads[TINY]["size_bytes"] == seen[TINY]["total_size_bytes"]
    assert len(downloads[TINY]["files"]) == seen[TINY]["file_count"]

    widget = client.download(WIDGET, source=SOURCE, force=False, include_patterns=[WIDGET_PATTERN])
    check_shape(widget, DOWNLOAD_EXAMPLE, "download widget")
    check_model_on_disk(widget, storage, "download widget")
    assert widget["files"], "the pattern matches files of the repo"
    assert all(fnmatch.fnmatch(f, WIDGET_PATTERN) for f in widget["files"]), widget["files"]
    assert widget["size_bytes"] < seen[WIDGET]["total_size_bytes"]
    downloads[WIDGET] = widget

    # List.
    listing = client.list_models()
    check_shape(listing, MODEL_LIST_EXAMPLE, "models")
    assert listing["count"] == len(listing["models"]) == 3
    by_id = {m["model_id"]: m for m in listing["models"]}
    assert set(by_id) == set(downloads)
    for model_id, model in by_id.items():
        where = f"models[{model_id}]"
        check_model_on_disk(model, storage, where)
        check_timestamp(model["downloaded_at"], f"{where}.downloaded_at")
        for field in ("path", "files", "size_bytes", "source"):
            assert model[field] == downloads[model_id][field], f"{where}.{field}"
    assert client.list_models(source=SOURCE) == listing

    # Status.
    status = client.status()
    check_shape(status, STATUS_EXAMPLE, "status")
    sizes = {m["model_id"]: m["size_bytes"] for m in listing["models"]}
    assert status["model_count"] == 3
    assert status["total_size_bytes"] == sum(sizes.values())
    assert Path(status["storage_path"]).resolve() == storage.resolve()
    assert status["sources"] == {SOURCE: {"count": 3, "size_bytes": sum(sizes.values())}}

    # Export, both formats: sorted by (source, model_id), kitt == json's paths.
    kitt = client.export("kitt")
    check_shape(kitt, EXPORT_KITT_EXAMPLE, "export kitt")
    as_json = client.export("json")
    check_shape(as_json, EXPORT_JSON_EXAMPLE, "export json")
    assert (kitt["format"], as_json["format"]) == ("kitt", "json")
    assert kitt["count"] == len(kitt["content"]) == 3
    assert as_json["count"] == len(as_json["content"]) == 3
    assert kitt["content"] == [m["path"] for m in as_json["content"]]
    keys = [(m["source"], m["model_id"]) for m in as_json["content"]]
    assert keys == sorted(keys)
    for exported in as_json["content"]:
        listed = by_id[exported["model_id"]]
        assert exported == {k: listed[k] for k in EXPORT_JSON_EXAMPLE["content"][0]}  # type: ignore[literal-required]
    assert client.export() == kitt  # format defaults to "kitt"
    assert client.request("POST", "/api/v1/export") == kitt  # so does a request with no body

    # docs/http-api.md: listing, status and export do not touch last_used.
    assert all(m["last_used"] is None for m in client.list_models()["models"])

    # Info: local and remote; fetching by id sets last_used.
    info = client.get_model(SOURCE, TINY)
    check_shape(info, MODEL_INFO_EXAMPLE, "info")
    local, remote = info["local"], info["remote"]
    assert local is not None
    assert remote is not None
    check_model_on_disk(local, storage, "info.local")
    check_timestamp(local["downloaded_at"], "info.local.downloaded_at")
    check_timestamp(local["last_used"], "info.local.last_used")
    assert local["downloaded_at"] == by_id[TINY]["downloaded_at"]
    check_search_result(remote, "info.remote")
    assert remote["model_id"] == TINY
    assert remote["total_size_bytes"] == local["size_bytes"]
    assert remote["file_count"] == len(local["files"])
    relisted = {m["model_id"]: m for m in client.list_models()["models"]}
    assert relisted[TINY]["last_used"] is not None
    check_timestamp(relisted[TINY]["last_used"], "models[tiny].last_used")

    # Clean: nothing is older than 30 days; a dry run of `all` lists everything.
    assert client.request("POST", "/api/v1/clean")["removed"] == 0  # no body: the defaults
    nothing = client.clean(unused=True, days=30)
    check_shape(nothing, CLEAN_EXAMPLE, "clean unused")
    assert nothing == {"removed": 0, "freed_bytes": 0, "dry_run": False, "models": []}
    dry = client.clean(all_=True, dry_run=True)
    check_shape(dry, CLEAN_EXAMPLE, "clean dry run")
    assert dry["dry_run"] is True
    assert sorted(dry["models"]) == sorted(f"{SOURCE}/{m}" for m in downloads)
    assert dry["removed"] == len(dry["models"]) == 3
    assert dry["freed_bytes"] == sum(sizes.values())
    assert client.list_models()["count"] == 3, "a dry run removes nothing"
    assert all(Path(d["path"]).is_dir() for d in downloads.values())

    # Delete one: gone from the vault and the disk; deleting it again is a 404.
    deleted = client.delete_model(SOURCE, SHARDY)
    check_shape(deleted, DELETE_EXAMPLE, "delete")
    assert deleted == {"deleted": True, "model_id": SHARDY, "source": SOURCE}
    assert not Path(downloads[SHARDY]["path"]).exists()
    assert SHARDY not in {m["model_id"] for m in client.list_models()["models"]}
    after = client.get_model(SOURCE, SHARDY)  # still on the hub: remote only
    assert after["local"] is None
    assert after["remote"] is not None
    check_error(lambda: client.delete_model(SOURCE, SHARDY), 404)

    # Clean, real run: removes what the dry run (now) says, and frees the sum of sizes.
    remaining = client.list_models()["models"]
    dry = client.clean(all_=True, dry_run=True)
    cleaned = client.clean(all_=True)
    check_shape(cleaned, CLEAN_EXAMPLE, "clean")
    assert cleaned["dry_run"] is False
    assert cleaned["models"] == dry["models"]
    assert cleaned["freed_bytes"] == dry["freed_bytes"] == sum(m["size_bytes"] for m in remaining)
    assert cleaned["removed"] == len(cleaned["models"]) == len(remaining) == 2
    assert sorted(cleaned["models"]) == sorted(f"{m['source']}/{m['model_id']}" for m in remaining)
    assert all(not Path(m["path"]).exists() for m in remaining)
    assert client.list_models() == {"count": 0, "models": []}
    assert client.export("kitt") == {"format": "kitt", "count": 0, "content": []}
    empty_status = client.status()
    assert (empty_status["model_count"], empty_status["total_size_bytes"]) == (0, 0)


# --- the tests ---------------------------------------------------------------------------------


def test_journey_without_api_key(test_hub: TestHub, tmp_path: Path) -> None:
    storage = tmp_path / "vault"
    with (
        served_devon(test_hub.url, storage, tmp_path / "server.log") as url,
        SpecClient(url) as client,
    ):
        run_journey(client, storage)


def test_journey_with_api_key(test_hub: TestHub, tmp_path: Path) -> None:
    key = "blackbox-test-key"
    storage = tmp_path / "vault"
    with (
        served_devon(test_hub.url, storage, tmp_path / "server.log", api_key=key) as url,
        SpecClient(url) as anonymous,
        SpecClient(url, api_key="wrong-key") as wrong,
        SpecClient(url, api_key=key) as client,
    ):
        # /health never needs the key.
        check_shape(anonymous.health(), HEALTH_EXAMPLE, "health")

        # Every /api/v1/* endpoint does: 401, exact body, `WWW-Authenticate: Bearer`.
        calls: list[Callable[[SpecClient], object]] = [
            lambda c: c.search(query="shardy"),
            lambda c: c.list_models(),
            lambda c: c.get_model(SOURCE, TINY),
            lambda c: c.delete_model(SOURCE, TINY),
            lambda c: c.download(TINY),
            lambda c: c.status(),
            lambda c: c.clean(all_=True),
            lambda c: c.export("kitt"),
            # Even a malformed request is refused before it is looked at.
            lambda c: c.search(limit=0),
            lambda c: c.request("POST", "/api/v1/downloads", json_body={}),
            # ...and so are routes and methods that do not exist (docs/http-api.md: every route).
            lambda c: c.request("GET", "/api/v1/no-such-route"),
            lambda c: c.request("PUT", "/api/v1/status"),
        ]
        for unauthorised in (anonymous, wrong):
            for call in calls:
                error = check_error(partial(call, unauthorised), 401)
                assert {"detail": error.detail} == UNAUTHORIZED_BODY
                assert error.headers.get("www-authenticate") == "Bearer"
        assert not storage.joinpath(SOURCE).exists(), "nothing was downloaded without the key"

        run_journey(client, storage)


def test_documented_error_statuses(test_hub: TestHub, tmp_path: Path) -> None:
    storage = tmp_path / "vault"
    with (
        served_devon(test_hub.url, storage, tmp_path / "server.log") as url,
        SpecClient(url) as client,
    ):
        # 400: bad `limit` (docs/http-api.md: 1..200), malformed query values.
        check_error(lambda: client.search(limit=0), 400)
        check_error(lambda: client.search(limit=201), 400)
        check_error(lambda: client.request("GET", "/api/v1/search", params={"limit": "x"}), 400)
        check_error(lambda: client.search(size="huge"), 400)
        check_error(lambda: client.search(params="lots"), 400)
        # 400: invalid model ids (docs/http-api.md: Hugging Face rules), before any work.
        for bad_id in ("bad..name/x", "acme/bad--name", "-acme/x", "a/b/c", "a/" + "x" * 97):
            check_error(partial(client.get_model, SOURCE, bad_id), 400)
            check_error(partial(client.download, bad_id), 400)
        check_error(lambda: client.delete_model(SOURCE, "acme/bad--name"), 400)
        # 400: unknown or malformed source names.
        check_error(lambda: client.search(query="x", source="nope"), 400)
        check_error(lambda: client.get_model("nope", SHARDY), 400)
        check_error(lambda: client.download(SHARDY, source="nope"), 400)
        check_error(lambda: client.list_models(source="Not!Valid"), 400)
        check_error(lambda: client.list_models(source="nope"), 400)
        check_error(lambda: client.delete_model("nope", SHARDY), 400)
        # 400: a body that is not JSON; an invalid glob.
        check_error(
            lambda: client.request(
                "POST",
                "/api/v1/downloads",
                content=b"{not json",
                headers={"content-type": "application/json"},
            ),
            400,
        )
        check_error(lambda: client.download(SHARDY, include_patterns=["[abc"]), 400)

        # 404: unknown model, locally and remotely.
        check_error(lambda: client.get_model(SOURCE, UNKNOWN), 404)
        check_error(lambda: client.delete_model(SOURCE, UNKNOWN), 404)
        check_error(lambda: client.download(UNKNOWN), 404)
        # docs/http-api.md: unknown routes and wrong methods also answer {"detail": str}.
        check_error(lambda: client.request("GET", "/api/v1/no-such-route"), 404)
        check_error(lambda: client.request("PUT", "/api/v1/status"), 405)

        # 403 (docs/http-api.md): a gated model without access.
        check_error(lambda: client.download("acme/Gated-Llama-8B"), 403)

        # 422: a well-formed body that fails validation.
        check_error(lambda: client.request("POST", "/api/v1/downloads", json_body={}), 422)
        check_error(
            lambda: client.request("POST", "/api/v1/downloads", json_body={"model_id": 5}), 422
        )
        check_error(lambda: client.clean(days=-1), 422)
        check_error(lambda: client.clean(unused=True, days=-1), 422)
        check_error(lambda: client.export("yaml"), 422)

        # None of it touched the vault.
        assert client.list_models() == {"count": 0, "models": []}
        assert not storage.joinpath(SOURCE).exists()


def test_vault_beyond_the_hub(test_hub: TestHub, tmp_path: Path) -> None:
    """A model in the vault that the hub no longer shows; one download for two requests."""
    storage = tmp_path / "vault"
    with (
        served_devon(
            test_hub.url, storage, tmp_path / "with-token.log", hf_token=test_hub.token
        ) as url_with_token,
        served_devon(test_hub.url, storage, tmp_path / "without-token.log") as url,
        SpecClient(url_with_token) as with_token,
        SpecClient(url) as client,
    ):
        # A private model, fetched by a server that has the hub token...
        private = with_token.download(PRIVATE)
        check_model_on_disk(private, storage, "download private")
        # ...is local-only for a server (same vault) that has none: `remote` is null.
        info = client.get_model(SOURCE, PRIVATE)
        check_shape(info, {**MODEL_INFO_EXAMPLE, "remote": None}, "info private")
        assert info["remote"] is None
        assert info["local"] is not None
        check_model_on_disk(info["local"], storage, "info private")
        # Deleted, it is found neither locally nor remotely: 404, for GET and DELETE.
        deleted = client.delete_model(SOURCE, PRIVATE)
        assert deleted == {"deleted": True, "model_id": PRIVATE, "source": SOURCE}
        check_error(lambda: client.get_model(SOURCE, PRIVATE), 404)
        check_error(lambda: client.delete_model(SOURCE, PRIVATE), 404)
        assert not Path(private["path"]).exists()

        # docs/vault.md: two requests for the same model at once produce one download.
        test_hub.reset()
        with ThreadPoolExecutor(max_workers=2) as pool:
            first, second = pool.map(lambda c: c.download(SHARDY), (client, with_token))
        assert first == second
        check_model_on_disk(first, storage, "concurrent download")
        assert test_hub.stats.count("/resolve/", "GET") == len(first["files"])

        # A request for a model already present downloads nothing and sets last_used;
        # `force` fetches it again and replaces it.
        listed = client.list_models()["models"][0]
        test_hub.reset()
        again = client.download(SHARDY)
        assert again == first
        assert test_hub.stats.count("/resolve/", "GET") == 0
        relisted = client.list_models()["models"][0]
        check_timestamp(relisted["last_used"], "models[shardy].last_used")
        if listed["last_used"] is not None:  # the concurrent request found it present
            assert relisted["last_used"] is not None
            assert relisted["last_used"] > listed["last_used"]
        assert relisted["downloaded_at"] == listed["downloaded_at"]
        forced = client.download(SHARDY, force=True)
        assert forced == first
        check_model_on_disk(forced, storage, "forced download")
        assert test_hub.stats.count("/resolve/", "GET") == len(first["files"])
        refetched = client.list_models()["models"][0]
        assert refetched["downloaded_at"] > listed["downloaded_at"]
