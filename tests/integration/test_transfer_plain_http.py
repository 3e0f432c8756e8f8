"""The downloader is source-neutral (ADR 0197): a model served as plain files over HTTP, no
Hub API, downloads through the same `Downloader` with resume, ranges and verification."""

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devon_adapters.transfer.downloading import Downloader, DownloadOptions
from devon_core import DownloadFailed
from devon_core.models import RemoteFile, RemoteModel
from tests.support.hf_helpers import files_under
from tests.support.plain_file_server import PlainFileServer, Served, serve_folder

MIB = 1024 * 1024
MODEL = "plainco/tiny-model"
CONTENT = {
    "config.json": b'{"model_type": "llama"}',
    "weights/model.safetensors": bytes(range(256)) * (3 * MIB // 256) + b"tail",
}
BIG = "weights/model.safetensors"
OPTIONS = DownloadOptions(
    retry_delay=0.0, split_threshold=MIB, connections_per_file=3, smallest_piece=MIB
)
"""Every file above 1 MiB goes as 3 connections of 1 MiB pieces."""


def listing(content: dict[str, bytes]) -> RemoteModel:
    files = tuple(
        RemoteFile(path, len(data), hashlib.sha256(data).hexdigest())
        for path, data in content.items()
    )
    return RemoteModel(
        source="plain", model_id=MODEL, model_name="tiny-model", revision="v1", files=files
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[PlainFileServer, Served]]:
    for path, data in CONTENT.items():
        target = tmp_path / "served" / MODEL / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    with serve_folder(tmp_path / "served") as served:
        yield PlainFileServer(served.url), served


def download(server: PlainFileServer, dest: Path, options: DownloadOptions = OPTIONS) -> None:
    model = listing(CONTENT)
    Downloader(server, options).download(model, model.files, str(dest))


def test_a_model_of_plain_files_downloads_byte_identical(
    server: tuple[PlainFileServer, Served], tmp_path: Path
) -> None:
    download(server[0], tmp_path / "dest")
    assert files_under(tmp_path / "dest") == CONTENT


def test_a_file_above_the_split_threshold_arrives_as_concurrent_ranges(
    server: tuple[PlainFileServer, Served], tmp_path: Path
) -> None:
    download(server[0], tmp_path / "dest")
    asked = sorted(server[1].ranges_asked(f"{MODEL}/{BIG}"), key=str)
    assert asked == [
        "bytes=0-1048575",
        "bytes=1048576-2097151",
        "bytes=2097152-3145727",
        "bytes=3145728-3145731",
    ]


def test_a_cut_file_resumes_from_the_byte_it_reached(
    server: tuple[PlainFileServer, Served], tmp_path: Path
) -> None:
    files, served = server
    served.cut_after[f"{MODEL}/{BIG}"] = 1000
    download(files, tmp_path / "dest", DownloadOptions(retry_delay=0.0, connections_per_file=1))
    assert served.ranges_asked(f"{MODEL}/{BIG}") == [None, "bytes=1000-"]
    assert files_under(tmp_path / "dest") == CONTENT


def test_a_file_that_does_not_match_its_sha256_is_refused_and_deleted(
    server: tuple[PlainFileServer, Served], tmp_path: Path
) -> None:
    served = server[1]
    damaged = served.root / MODEL / BIG
    damaged.write_bytes(b"X" + CONTENT[BIG][1:])
    with pytest.raises(DownloadFailed, match=r"Checksum mismatch for weights/model\.safetensors"):
        download(server[0], tmp_path / "dest")
    assert not [p for p in (tmp_path / "dest").rglob("*") if p.name.startswith("model.")]


def test_the_plugin_guide_example_downloads_through_a_file_server(
    server: tuple[PlainFileServer, Served], tmp_path: Path
) -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    example = re.search(r"```python\n(from devon_adapters\.transfer.*?)```", guide, re.DOTALL)
    assert example is not None
    namespace: dict[str, Any] = {}
    exec(compile(example[1], "docs/plugins.md", "exec"), namespace)  # noqa: S102 - our docs
    model = listing(CONTENT)
    namespace["PlainSource"](server[1].url).download(model, model.files, str(tmp_path / "dest"))
    assert files_under(tmp_path / "dest") == CONTENT
