"""Builders and helpers shared by the HTTP contract tests: a `Devon` on fakes, a served
app on a real loopback socket, a source that blocks downloads, and JSON shape comparison."""

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from devon_app import Settings
from devon_core import Devon, DownloadCancelled, RemoteFile, RemoteModel
from devon_core.ports import ProgressCallback, StopSignal
from devon_http.asgi import create_app_from_settings
from devon_http.serve import running
from devon_testhub import TestHub
from tests.support.fakes import (
    FakeCache,
    FakeSource,
    MemoryStore,
    SettableClock,
    cached_repo,
    local_model,
    remote_model,
)

WAIT_SECONDS = 10.0
"""How long a test waits for something that should happen at once before calling it a hang."""

QWEN = "Qwen/Qwen2.5-7B-Instruct"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
CACHED = "acme/Cached-1B"
"""In the fake Hugging Face cache of `fake_devon`, not in its vault."""


def catalogue() -> list[RemoteModel]:
    """Remote models whose fields are all set, like the spec's examples."""
    return [
        remote_model(
            LLAMA,
            parameter_count=8,
            architecture="llama",
            format=("safetensors",),
            quantization="none",
            tags=("text-generation",),
            license="llama3.1",
            downloads=985000,
            likes=2400,
            created_at="2024-07-23T10:00:00+00:00",
            updated_at="2024-12-01T08:30:00+00:00",
            web_url=f"https://huggingface.co/{LLAMA}",
            repo_url=f"https://huggingface.co/{LLAMA}/tree/main",
        ),
        remote_model(
            QWEN,
            parameter_count=7.6,
            architecture="qwen2",
            format=("safetensors",),
            quantization="none",
            tags=("text-generation",),
            license="apache-2.0",
            downloads=892000,
            likes=1800,
            created_at="2024-09-16T11:55:00+00:00",
            updated_at="2024-09-25T12:32:00+00:00",
            web_url=f"https://huggingface.co/{QWEN}",
            repo_url=f"https://huggingface.co/{QWEN}/tree/main",
        ),
    ]


def fake_devon(source: FakeSource | None = None, *, local: Sequence[str] = ()) -> Devon:
    """A `Devon` on the fakes, with the models `local` already in the vault."""
    source = source or FakeSource(catalogue())
    store = MemoryStore(disk=source.disk)
    for model_id in local:
        store.add(local_model(model_id))
    cache = FakeCache([cached_repo(CACHED)], disk=source.disk)
    return Devon(
        source=source, store=store, clock=SettableClock(), open_cache=lambda location: cache
    )


class BlockingSource(FakeSource):
    """A fake source whose downloads wait for `release` once they have begun (`started`)."""

    def __init__(self, models: Sequence[RemoteModel] = ()) -> None:
        super().__init__(models or catalogue())
        self.started: dict[str, threading.Event] = {}
        self.release = threading.Event()

    def began(self, model_id: str) -> threading.Event:
        return self.started.setdefault(model_id, threading.Event())

    def download(
        self,
        model: RemoteModel,
        files: Sequence[RemoteFile],
        dest: str,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[str]:
        self.began(model.model_id).set()
        deadline = time.monotonic() + WAIT_SECONDS
        while not self.release.wait(0.05):
            if stop is not None and stop.is_set():
                raise DownloadCancelled(f"The download of {model.model_id} was stopped")
            if time.monotonic() > deadline:
                raise AssertionError("the test never released the download")
        return super().download(model, files, dest, progress, stop)


serving = running


@pytest.fixture(name="vault")
def vault_fixture(tmp_path: Path) -> Path:
    """Where the app of `base_url` keeps its vault (the fixture `vault` of the modules that
    import it)."""
    return tmp_path / "vault"


@pytest.fixture(name="base_url")
def served_from_settings(test_hub: TestHub, vault: Path) -> Iterator[str]:
    """The app the composition root builds from settings (a disk vault at `vault`, the test
    hub as the Hub) on a loopback port (the fixture `base_url` of the modules that import
    it)."""
    settings = Settings(storage_path=vault, hf_endpoint=test_hub.url)
    with serving(create_app_from_settings(settings)) as url:
        yield url


"""Serve an app on an ephemeral loopback port in a thread; yield its base URL."""


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_problems(actual: Any, example: Any, where: str = "$") -> list[str]:
    """How `actual` differs in shape from the spec's `example`: the same keys at every level,
    the same JSON types (a null in the example allows any type: the field is nullable; list
    items are compared with the example's first item)."""
    if example is None:
        return []
    if json_type(actual) != json_type(example):
        return [f"{where}: {json_type(actual)} where the spec has {json_type(example)}"]
    if isinstance(example, dict):
        if example == {}:  # a free-form object, such as `metadata`
            return []
        problems = []
        if set(actual) != set(example):
            problems.append(f"{where}: keys {sorted(actual)} where the spec has {sorted(example)}")
        for key in set(actual) & set(example):
            problems += shape_problems(actual[key], example[key], f"{where}.{key}")
        return problems
    if isinstance(example, list) and example:
        return [
            problem
            for index, item in enumerate(actual)
            for problem in shape_problems(item, example[0], f"{where}[{index}]")
        ]
    return []
