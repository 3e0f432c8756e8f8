"""A Hugging Face Hub look-alike on 127.0.0.1, for tests, demos and benchmarks.

from devon_testhub import run_test_hub
with run_test_hub() as hub:
    HfApi(endpoint=hub.url).model_info("acme/shardy-7b", files_metadata=True)
"""

from devon_testhub.catalogue import Catalogue
from devon_testhub.content import FileContent, filler_file, gguf_file, json_file, safetensors_file
from devon_testhub.default_catalogue import GATED_REPO, PRIVATE_REPO
from devon_testhub.faults import Faults, RequestRecord, RequestStats
from devon_testhub.repos import HubFile, Repo, hub_file
from devon_testhub.server import DEFAULT_TOKEN, TestHub, run_test_hub

__all__ = [
    "DEFAULT_TOKEN",
    "GATED_REPO",
    "PRIVATE_REPO",
    "Catalogue",
    "Faults",
    "FileContent",
    "HubFile",
    "Repo",
    "RequestRecord",
    "RequestStats",
    "TestHub",
    "filler_file",
    "gguf_file",
    "hub_file",
    "json_file",
    "run_test_hub",
    "safetensors_file",
]
