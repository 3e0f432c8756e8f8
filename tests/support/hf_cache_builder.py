"""A real Hugging Face cache, written by huggingface_hub itself against a test hub, in every
state `devon adopt` must tell apart.

- tinyco/Tiny-0.5B-Instruct: snapshot_download; complete.
- acme/Widget-8B-GGUF: hf_hub_download of one GGUF file and README.md; complete (a subset).
- onnxco/MiniEmbed-ONNX: snapshot_download, then one blob deleted; a broken symlink.
- oldco/legacy-gpt-1.3b: snapshot_download while the hub flips one byte; a corrupted blob.
- acme/shardy-7b: snapshot_download of all but one shard, then a process killed (SIGKILL)
  while downloading that shard; an unfinished `.incomplete` download.
- datasets--tinyco--chat-logs: a repo folder written by hf_hub_download, renamed, because
  the test hub serves no datasets; a dataset repo.
- models--acme--bad..name: likewise renamed; an invalid id.
"""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download, snapshot_download

from devon_testhub import TestHub
from tests.support.hf_helpers import LEGACY, ONNX, SHARDY, TINY, WIDGET

WIDGET_FILE = "widget-8b.Q4_K_M.gguf"
KILLED_SHARD = "model-00002-of-00003.safetensors"
DATASET = "tinyco/chat-logs"
INVALID_FOLDER = "models--acme--bad..name"

_KILL_DURING_DOWNLOAD = textwrap.dedent(
    """
    import os, signal, sys
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import tqdm

    class KilledMidway(tqdm):
        def update(self, n=1):
            os.kill(os.getpid(), signal.SIGKILL)  # as a power cut or `kill -9` would

    repo, name, cache, endpoint = sys.argv[1:5]
    hf_hub_download(
        repo, name, cache_dir=cache, endpoint=endpoint, token=False, tqdm_class=KilledMidway
    )
    """
)


def folder_of(repo_id: str, kind: str = "models") -> str:
    return f"{kind}--{repo_id.replace('/', '--')}"


def snapshot_dir(cache: Path, repo_id: str) -> Path:
    folder = cache / folder_of(repo_id)
    revision = (folder / "refs" / "main").read_text().strip()
    return folder / "snapshots" / revision


def download(
    hub: TestHub, cache: Path, repo_id: str, ignore_patterns: list[str] | None = None
) -> Path:
    path = snapshot_download(
        repo_id, cache_dir=cache, endpoint=hub.url, token=False, ignore_patterns=ignore_patterns
    )
    return Path(path)


def build_cache(hub: TestHub, cache: Path) -> Path:
    """Fill `cache` with the repos of the module docstring; return it."""
    download(hub, cache, TINY)
    for name in (WIDGET_FILE, "README.md"):
        hf_hub_download(WIDGET, name, cache_dir=cache, endpoint=hub.url, token=False)

    onnx = download(hub, cache, ONNX)
    weights = next(p for p in sorted(onnx.rglob("*")) if p.name.endswith(".onnx"))
    os.unlink(weights.resolve())  # the link stays, its blob is gone

    hub.faults.corrupt(LEGACY, "pytorch_model.bin")
    download(hub, cache, LEGACY)
    hub.faults.reset()

    download(hub, cache, SHARDY, ignore_patterns=[KILLED_SHARD])
    killed = subprocess.run(
        [sys.executable, "-c", _KILL_DURING_DOWNLOAD, SHARDY, KILLED_SHARD, str(cache), hub.url],
        env={**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "0"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr
    assert list((cache / folder_of(SHARDY) / "blobs").glob("*.incomplete"))

    scratch = cache.parent / f"{cache.name}-scratch"
    for folder in (folder_of(DATASET, "datasets"), INVALID_FOLDER):
        hf_hub_download(TINY, "config.json", cache_dir=scratch, endpoint=hub.url, token=False)
        shutil.move(scratch / folder_of(TINY), cache / folder)
    shutil.rmtree(scratch)
    return cache


def build_cache_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The cache of every state (`build_cache`), built in a temp folder of the session; and
    the address of its hub, now stopped. For a module-scoped fixture."""
    root = tmp_path_factory.mktemp("hf-cache")
    with TestHub() as hub:
        build_cache(hub, root / "hub")
        address = hub.url
    return root / "hub", address
