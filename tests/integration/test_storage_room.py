"""Room for downloads on a real vault: reserved vault-wide and across processes for every
download in flight, counting bytes already staged; a disk that fills up mid-download is
InsufficientStorage, keeps what arrived, and resumes once space is freed."""

import errno
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from devon_adapters.clock import SystemClock
from devon_adapters.transfer.staging_layout import FileJob
from devon_adapters.vault.store import DiskModelStore
from devon_core import Devon, InsufficientStorage, RemoteFile, RemoteModel, StorageSpace
from devon_core.ports import ProgressCallback, StopSignal
from devon_testhub import TestHub
from tests.support.file_source import FileSource
from tests.support.hf_helpers import SHARDY, files_under, hub_bytes, source_for
from tests.support.http_support import WAIT_SECONDS

SIZE = 100_000
MODELS = [f"acme/model-{n}" for n in range(4)]
SHARD = "model-00001-of-00003.safetensors"


class GatedFileSource(FileSource):
    """Writes real files, but only once `release` is set: downloads stay in flight."""

    def __init__(self) -> None:
        super().__init__({m: {"weights.bin": bytes(SIZE)} for m in MODELS})
        self.started: list[str] = []
        self.release = threading.Event()

    def download(
        self,
        model: RemoteModel,
        files: Sequence[RemoteFile],
        dest: str,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[str]:
        self.started.append(model.model_id)
        if not self.release.wait(WAIT_SECONDS):
            raise AssertionError("the test never released the downloads")
        return super().download(model, files, dest, progress, stop)


def test_downloads_at_once_never_take_the_vault_past_its_quota(tmp_path: Path) -> None:
    quota = 3 * SIZE + SIZE // 2
    source = GatedFileSource()
    outcomes: dict[str, str] = {}
    threads = []
    for model_id in MODELS:
        # A store per thread, as separate server workers would each have.
        store = DiskModelStore(tmp_path / "vault", quota_bytes=quota)
        devon = Devon(source=source, store=store, clock=SystemClock())

        def run(devon: Devon = devon, model_id: str = model_id) -> None:
            try:
                devon.download(model_id)
                outcomes[model_id] = "ok"
            except InsufficientStorage as error:
                outcomes[model_id] = str(error)

        threads.append(threading.Thread(target=run))
    for thread in threads:
        thread.start()
    deadline = threading.Event()
    while len(source.started) + len(outcomes) < len(MODELS) and not deadline.wait(0.01):
        pass
    source.release.set()
    for thread in threads:
        thread.join(WAIT_SECONDS * 3)

    assert sorted(outcomes.values()).count("ok") == 3
    [refusal] = [text for text in outcomes.values() if text != "ok"]
    assert refusal.startswith("Storage quota exceeded")
    vault = DiskModelStore(tmp_path / "vault")
    assert vault.space().used_bytes <= quota
    assert len(vault.list()) == 3


HOLDER = """
import sys
from devon_adapters.vault.store import DiskModelStore
from devon_core import StagingArea
store = DiskModelStore(sys.argv[1])
with store.lock("huggingface", "acme/other"):
    staging = store.stage("huggingface", "acme/other")
    with store.reserve(staging, 5000, 0, lambda space: None):
        print("held", flush=True)
        sys.stdin.readline()
"""


@pytest.fixture
def other_process_holding_room(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    vault = tmp_path / "vault"
    DiskModelStore(vault).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(vault)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    yield holder
    holder.kill()
    holder.wait(WAIT_SECONDS)


def space_seen_by_a_new_download(vault: Path) -> StorageSpace:
    store = DiskModelStore(vault)
    seen: list[StorageSpace] = []
    with store.lock("huggingface", "acme/mine"):
        staging = store.stage("huggingface", "acme/mine")
        with store.reserve(staging, 10, 0, seen.append):
            pass
    store.close()
    return seen[0]


def test_room_held_by_a_download_in_another_process_counts(
    tmp_path: Path, other_process_holding_room: subprocess.Popen[str]
) -> None:
    seen = space_seen_by_a_new_download(tmp_path / "vault")
    assert seen.used_bytes == 5000


def test_room_held_by_a_process_that_died_is_given_back(
    tmp_path: Path, other_process_holding_room: subprocess.Popen[str]
) -> None:
    other_process_holding_room.kill()
    other_process_holding_room.wait(WAIT_SECONDS)
    seen = space_seen_by_a_new_download(tmp_path / "vault")
    assert seen.used_bytes == 0


def test_a_reservation_ends_with_its_download(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    Devon(source=FileSource(), store=store, clock=SystemClock()).download("acme/widget-7b")
    assert list((tmp_path / "vault" / ".devon" / "reservations").iterdir()) == []


# -- a disk that fills up mid-download ----------------------------------------------------


class FillingDisk:
    """`FileJob.open_partial` on a disk with room for `room` more bytes of `path`."""

    def __init__(self, path: str, room: int) -> None:
        self.path = path
        self.room = room
        self.original = FileJob.open_partial

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(FileJob, "open_partial", lambda job: self.open_partial(job))

    def open_partial(self, job: FileJob) -> BinaryIO:
        handle = self.original(job)
        if job.file.path != self.path:
            return handle
        disk = self

        class Filling:
            def __getattr__(self, name: str) -> Any:
                return getattr(handle, name)

            def __enter__(self) -> "Filling":
                return self

            def __exit__(self, *exc: object) -> None:
                handle.close()

            def write(self, data: bytes) -> int:
                fits = data[: max(disk.room, 0)]
                handle.write(fits)
                disk.room -= len(fits)
                if len(fits) < len(data):
                    handle.flush()
                    raise OSError(errno.ENOSPC, "No space left on device")
                return len(data)

        return Filling()  # type: ignore[return-value]


@pytest.fixture
def devon_on_hub(test_hub: TestHub, tmp_path: Path) -> Iterator[Devon]:
    store = DiskModelStore(tmp_path / "vault")
    yield Devon(source=source_for(test_hub, download_retries=0), store=store, clock=SystemClock())
    store.close()


def test_a_disk_filling_up_mid_download_is_insufficient_storage_keeping_the_bytes(
    devon_on_hub: Devon, test_hub: TestHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    disk = FillingDisk(SHARD, room=40_000)
    disk.install(monkeypatch)

    with pytest.raises(InsufficientStorage, match=r"^Not enough free disk space: the download"):
        devon_on_hub.download(SHARDY)

    assert devon_on_hub.list() == []
    staging = devon_on_hub.store.stage("huggingface", SHARDY)
    assert staging.partial_files[SHARD] == 40_000


def test_after_space_is_freed_the_same_download_resumes(
    devon_on_hub: Devon, test_hub: TestHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = FillingDisk(SHARD, room=40_000)
    disk.install(monkeypatch)
    with pytest.raises(InsufficientStorage):
        devon_on_hub.download(SHARDY)
    monkeypatch.undo()  # space freed
    test_hub.stats.reset()

    local = devon_on_hub.download(SHARDY)

    assert test_hub.stats.range_starts(SHARD) == [40_000]
    assert files_under(Path(local.path))[SHARD] == hub_bytes(test_hub, SHARDY, SHARD)


def test_bytes_already_staged_are_not_needed_again(
    devon_on_hub: Devon, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = FillingDisk(SHARD, room=40_000)
    disk.install(monkeypatch)
    with pytest.raises(InsufficientStorage):
        devon_on_hub.download(SHARDY)
    monkeypatch.undo()

    staging = devon_on_hub.store.stage("huggingface", SHARDY)
    remote = devon_on_hub.source().info(SHARDY)
    full = sum(f.size_bytes for f in remote.files)
    assert staging.bytes_still_needed(remote.files) <= full - 40_000
