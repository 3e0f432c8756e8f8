"""Seeding between fleet hosts, per file (ADR 0282): which files of a download still running
count as landed (a host serves those to its peers), and where a host takes each file from:
a peer that has it, the central for the first wave, a wait for the others; and a file a
peer sent wrong, fetched again from the central alone (ADR 0283)."""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from devon_adapters.huggingface.seeding import SeedingFileServer
from devon_adapters.transfer.downloading import Downloader, DownloadOptions
from devon_adapters.transfer.staging_layout import FileJob, landed_file, landed_files
from devon_core.errors import DownloadFailed
from devon_core.fleet import Seeds
from devon_core.models import RemoteFile
from tests.support.scripted_file_server import ScriptedServer, model_of

CENTRAL = "http://central:8000"
URL = f"{CENTRAL}/acme/m/resolve/c0ffee/model-1.safetensors"


def _land(dest: Path, path: str, data: bytes, revision: str = "c0ffee") -> FileJob:
    job = FileJob.plan(dest, RemoteFile(path, len(data), hashlib.sha256(data).hexdigest()))
    job.start_partial(revision)
    with job.open_partial() as out:
        out.write(data)
    job.complete(revision)
    return job


def test_only_complete_files_of_a_staging_count_as_landed(tmp_path: Path) -> None:
    _land(tmp_path, "sub/model-1.safetensors", b"whole")
    arriving = FileJob.plan(tmp_path, RemoteFile("model-2.safetensors", 10))
    arriving.start_partial("c0ffee")
    with arriving.open_partial() as out:
        out.write(b"half")
    shrunk = _land(tmp_path, "model-3.safetensors", b"was longer")
    shrunk.target.write_bytes(b"short")

    found = landed_files(tmp_path)

    assert set(found) == {"sub/model-1.safetensors"}
    landed = found["sub/model-1.safetensors"]
    assert (landed.size_bytes, landed.revision) == (5, "c0ffee")
    assert landed.sha256 == hashlib.sha256(b"whole").hexdigest()
    assert landed_file(tmp_path, ".cache/devon/done/sub/model-1.safetensors.json") is None
    assert landed_file(tmp_path, "../elsewhere") is None
    assert landed_files(tmp_path / "missing") == {}


class _Inner:
    """Records the URLs asked for; a peer in `failing` answers an error."""

    def __init__(self, failing: tuple[str, ...] = ()) -> None:
        self.client = None
        self.asked: list[str] = []
        self.failing = failing

    @contextmanager
    def open_file(
        self, url: str, start: int, read_timeout: float, end: int | None = None
    ) -> Iterator[Any]:
        self.asked.append(url)
        if url.startswith(self.failing):
            raise OSError("404")
        yield object()


def _server(inner: _Inner, answers: list[Seeds], **options: float) -> SeedingFileServer:
    def peers(model_id: str) -> Seeds:
        assert model_id == "acme/m"
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return SeedingFileServer(inner, CENTRAL, peers, **options)  # type: ignore[arg-type]


def test_a_later_host_waits_for_a_peer_to_land_the_file_then_takes_it_from_it() -> None:
    inner = _Inner()
    waiting = Seeds(landed=(("http://b:8000", ("other.json",)),), from_central=False)
    landed = Seeds(landed=(("http://b:8000", ("model-1.safetensors",)),), from_central=False)
    server = _server(inner, [waiting, waiting, landed], poll_s=0)

    with server.open_file(URL, 0, 10.0):
        pass

    assert inner.asked == ["http://b:8000/acme/m/resolve/c0ffee/model-1.safetensors"]


def test_the_first_wave_takes_a_file_no_peer_has_from_the_central() -> None:
    inner = _Inner()
    server = _server(inner, [Seeds(landed=(("http://b:8000", ("other.json",)),))], poll_s=0)

    with server.open_file(URL, 0, 10.0):
        pass

    assert inner.asked == [URL]


def test_a_wait_that_runs_out_and_a_peer_that_fails_fall_back_to_the_central() -> None:
    inner = _Inner(failing=("http://a:8000",))
    never = _server(inner, [Seeds(from_central=False)], poll_s=0, wait_s=0)
    with never.open_file(URL, 0, 10.0):
        pass
    failing = _server(inner, [Seeds(whole=("http://a:8000",))])
    with failing.open_file(URL, 0, 10.0):
        pass

    assert inner.asked == [URL, "http://a:8000/acme/m/resolve/c0ffee/model-1.safetensors", URL]


def test_a_file_refused_once_comes_from_the_central_alone() -> None:
    inner = _Inner()
    server = _server(inner, [Seeds(whole=("http://a:8000",))])

    with server.from_origin(URL), server.open_file(URL, 0, 10.0):
        pass
    with server.open_file(URL, 0, 10.0):
        pass

    assert inner.asked == [URL, "http://a:8000/acme/m/resolve/c0ffee/model-1.safetensors"]


class _Mirrored(ScriptedServer):
    """Sends damaged bytes (a mirror's) unless the file is asked of the origin alone."""

    def __init__(self, good: bytes, damaged: bytes | None) -> None:
        super().__init__(damaged if damaged is not None else good)
        self.good = good
        self.origin_urls: list[str] = []

    @contextmanager
    def from_origin(self, url: str) -> Iterator[None]:
        self.origin_urls.append(url)
        mirrors, self.data = self.data, self.good
        try:
            yield
        finally:
            self.data = mirrors


@pytest.mark.parametrize("split", [True, False])
def test_a_file_a_mirror_sent_wrong_is_refused_and_fetched_again_from_the_origin(
    tmp_path: Path, split: bool
) -> None:
    good = bytes(range(256)) * 1024
    damaged = bytearray(good)
    damaged[1000] ^= 0xFF
    model, files = model_of(good)
    server = _Mirrored(good, bytes(damaged))
    options = DownloadOptions(
        split_threshold=1024 if split else len(good),
        smallest_piece=64 * 1024,
        retry_delay=0.0,
    )

    Downloader(server, options).download(model, files, str(tmp_path))

    assert (tmp_path / "weights.bin").read_bytes() == good
    assert server.origin_urls == ["http://scripted.invalid/acme/scripted/weights.bin"]


def test_a_file_the_origin_sends_wrong_too_fails_the_download(tmp_path: Path) -> None:
    good = bytes(range(256)) * 64
    model, files = model_of(good)
    server = _Mirrored(b"x" * len(good), None)  # the origin's copy is damaged as well

    with pytest.raises(DownloadFailed, match=r"Checksum mismatch for weights\.bin"):
        Downloader(server, DownloadOptions(retry_delay=0.0)).download(model, files, str(tmp_path))

    assert not (tmp_path / "weights.bin").exists()
