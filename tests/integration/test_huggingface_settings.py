"""How the Hugging Face source is found and configured: the `devon.sources` entry point,
`from_settings`, and huggingface_hub's own `HF_ENDPOINT` / `HF_TOKEN`."""

import hashlib
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from devon_adapters.huggingface import HuggingFaceSource
from devon_adapters.vault.store import DiskModelStore
from devon_app.bootstrap import build_devon
from devon_app.settings import Settings
from devon_testhub import GATED_REPO, PRIVATE_REPO, TestHub
from tests.support.hf_helpers import SHARDY


def test_entry_point_names_the_source_class() -> None:
    (plugin,) = [p for p in entry_points(group="devon.sources") if p.name == "huggingface"]
    assert plugin.load() is HuggingFaceSource


def test_build_devon_finds_the_source_configured_from_settings(
    test_hub: TestHub, tmp_path: Path
) -> None:
    settings = Settings(storage_path=tmp_path, hf_endpoint=test_hub.url, hf_token=test_hub.token)
    devon = build_devon(settings)

    source = devon.source("huggingface")

    assert isinstance(source, HuggingFaceSource)
    assert source.endpoint == test_hub.url
    assert source.info(PRIVATE_REPO).model_id == PRIVATE_REPO  # the token was used
    assert isinstance(devon.store, DiskModelStore)
    devon.store.close()


def test_settings_can_turn_verification_off(test_hub: TestHub, tmp_path: Path) -> None:
    settings = Settings(storage_path=tmp_path, hf_endpoint=test_hub.url, verify_checksums=False)
    source = HuggingFaceSource.from_settings(settings)
    model = source.info(SHARDY)
    corrupted = "model-00001-of-00003.safetensors"
    test_hub.faults.corrupt(SHARDY, corrupted)

    files = source.download(model, model.files, str(tmp_path / "staging"))

    assert sorted(files) == sorted(f.path for f in model.files)
    expected = next(f.sha256 for f in model.files if f.path == corrupted)
    landed = hashlib.sha256((tmp_path / "staging" / corrupted).read_bytes()).hexdigest()
    assert expected is not None
    assert landed != expected  # the corrupted bytes were kept, unverified, as asked


_PROBE = """
import json
from devon_adapters.huggingface import HuggingFaceSource
source = HuggingFaceSource()
print(json.dumps({"endpoint": source.endpoint, "private": source.info(%r).model_id}))
"""


def test_hf_endpoint_and_hf_token_work_as_in_huggingface_hub(test_hub: TestHub) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_IMPLICIT_TOKEN"}
    env |= {"HF_ENDPOINT": test_hub.url, "HF_TOKEN": test_hub.token}

    output = subprocess.run(
        [sys.executable, "-c", _PROBE % PRIVATE_REPO],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout

    assert json.loads(output) == {"endpoint": test_hub.url, "private": PRIVATE_REPO}


def test_explicit_token_wins_over_hf_token(test_hub: TestHub) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_IMPLICIT_TOKEN"}
    env |= {"HF_ENDPOINT": test_hub.url, "HF_TOKEN": test_hub.token}
    probe = (
        "from devon_adapters.huggingface import HuggingFaceSource\n"
        "from devon_core import NotFound\n"
        "source = HuggingFaceSource(token=False)\n"
        "try:\n"
        f"    source.info({PRIVATE_REPO!r})\n"
        "except NotFound:\n"
        "    print('hidden')\n"
    )

    output = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == "hidden"


def test_gated_repo_needs_the_token_only_for_its_files(test_hub: TestHub) -> None:
    assert HuggingFaceSource(endpoint=test_hub.url, token=False).info(GATED_REPO).files
