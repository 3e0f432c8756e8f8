"""A vault served over HTTP with its Hub paths, for the real Hugging Face clients to use."""

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from devon_app import Settings, build_devon
from devon_core import Devon
from devon_http.asgi import create_app_from_settings
from devon_http.connections import LimitedProtocol
from devon_http.serve import running
from devon_testhub import TestHub


@attrs.frozen
class ServedVault:
    url: str
    devon: Devon
    settings: Settings


def vault_settings(hub: TestHub, vault: Path, **env: str) -> Settings:
    """Settings of a vault at `vault` whose source is the test hub."""
    return Settings.from_env(
        {
            "DEVON_CONFIG_PATH": "",
            "DEVON_STORAGE_PATH": str(vault),
            "HF_ENDPOINT": hub.url,
            **env,
        }
    )


@contextmanager
def served_vault(
    hub: TestHub, vault: Path, *, holding: tuple[str, ...] = (), zero_copy: bool = True, **env: str
) -> Iterator[ServedVault]:
    """A DEVON on `vault` (the test hub its source) holding the models `holding`, served by
    uvicorn on a free loopback port, with `devon serve`'s HTTP protocol (`zero_copy`) or
    uvicorn's own."""
    settings = vault_settings(hub, vault, **env)
    devon = build_devon(settings)
    for model_id in holding:
        devon.download(model_id)
    app = create_app_from_settings(settings, devon)
    options: dict[str, Any] = {"http": LimitedProtocol} if zero_copy else {}
    with running(app, **options) as url:
        yield ServedVault(url, devon, settings)
    devon.store.close()  # type: ignore[attr-defined]


def run_python(code: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter with `env` on top of this one's (huggingface_hub reads
    HF_ENDPOINT once, when it is imported)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def hf_env(url: str, home: Path, **extra: str) -> dict[str, str]:
    """A Hugging Face client's environment pointing at the DEVON at `url`."""
    return {
        "HF_ENDPOINT": url,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        **extra,
    }
