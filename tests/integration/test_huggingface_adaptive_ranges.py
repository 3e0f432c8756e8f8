"""Large files against a test hub whose connections are limited, slow or stalled (ADR 0225,
ADR 0227): the connections of a file grow while that adds throughput and the host keeps the
count; a stalled connection is dropped and its bytes kept; a small download started while
a large one runs is not starved."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devon_core import DownloadCancelled
from devon_core.models import RemoteFile, RemoteModel
from devon_testhub import Catalogue, Repo, TestHub, filler_file, hub_file, run_test_hub
from tests.support.fixtures import cleared
from tests.support.hf_helpers import files_under, hub_bytes, source_for

MIB = 1024 * 1024
REPO = "adapt/Weights"
SMALL_REPO = "adapt/Small"
SIZES = {"big.bin": 16 * MIB, "next.bin": 8 * MIB}
FAIR_REPO = "adapt/Large"
FAIR_SHARDS = {f"shard-{n}.bin": 16 * MIB for n in range(4)}
SMALL = 233 * 1024
WAIT = 60.0


def catalogue() -> Catalogue:
    def repo(repo_id: str, sizes: dict[str, int]) -> Repo:
        files = [
            hub_file(name, filler_file(size, f"{repo_id}/{name}")) for name, size in sizes.items()
        ]
        return Repo(id=repo_id, files=tuple(files))

    return (
        Catalogue.default()
        .with_repo(repo(REPO, SIZES))
        .with_repo(repo(FAIR_REPO, FAIR_SHARDS))
        .with_repo(repo(SMALL_REPO, {"small.gguf": SMALL}))
    )


@pytest.fixture(scope="module")
def module_hub() -> Iterator[TestHub]:
    with run_test_hub(catalogue()) as hub:
        yield hub


@pytest.fixture
def hub(module_hub: TestHub) -> Iterator[TestHub]:
    yield from cleared(module_hub)


def only(model: RemoteModel, *paths: str) -> list[RemoteFile]:
    return [f for f in model.files if f.path in paths]


def in_thread(run: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=target, daemon=True)  # a failed test must not hang the run
    thread.start()
    return thread, errors


def test_connections_grow_while_each_adds_throughput_and_the_host_keeps_the_count(
    hub: TestHub, tmp_path: Path
) -> None:
    hub.faults.limit_connection_rate(512 * 1024)
    source = source_for(
        hub, split_threshold=MIB, connections_per_file=2, max_connections_per_file=8
    )
    model = source.info(REPO)

    source.download(model, only(model, "big.bin"), str(tmp_path))
    grew_to = hub.stats.peak_concurrency()
    hub.stats.reset()
    source.download(model, only(model, "next.bin"), str(tmp_path))
    began = [at for at, _ in hub.stats.begun("next.bin")]

    # Eight at once; the hub may still be ending a stolen range's answer as the connection
    # taking its place begins, so it can count one more for a moment.
    assert grew_to in (8, 9)
    assert began[7] - began[0] < 0.5  # eight at once from the start, not grown again
    assert files_under(tmp_path) == {p: hub_bytes(hub, REPO, p) for p in SIZES}


def test_a_stalled_connection_is_dropped_and_another_fetches_the_rest_of_its_range(
    hub: TestHub, tmp_path: Path
) -> None:
    hub.faults.stall_transfers(after_bytes=64 * 1024, times=1, path_contains="big.bin")
    source = source_for(
        hub, split_threshold=MIB, connections_per_file=4, max_connections_per_file=4,
        stall_timeout=0.5,
    )  # fmt: skip
    model = source.info(REPO)

    source.download(model, only(model, "big.bin"), str(tmp_path))

    assert (tmp_path / "big.bin").read_bytes() == hub_bytes(hub, REPO, "big.bin")
    stalled = [r for r in hub.stats.requests("big.bin", "GET") if not r.completed]
    assert [r.bytes_sent for r in stalled] == [64 * 1024]
    assert hub.stats.bytes_served("big.bin") == SIZES["big.bin"]  # its 64 KiB were kept


def test_a_small_download_started_while_a_large_one_runs_is_not_starved(
    hub: TestHub, tmp_path: Path
) -> None:
    hub.faults.set_bandwidth(2 * MIB)  # the whole hub: the large model takes half a minute
    source = source_for(hub, split_threshold=MIB, connections_per_file=8, max_connections=4)
    large = source.info(FAIR_REPO)
    small = source.info(SMALL_REPO)
    large_total = sum(FAIR_SHARDS.values())
    large_done = [0]
    stop_large = threading.Event()

    def large_progress(done: int, total: int) -> None:
        large_done[0] = done

    large_thread, large_errors = in_thread(
        lambda: source.download(
            large, list(large.files), str(tmp_path / "large"), large_progress, stop_large
        )
    )
    deadline = time.monotonic() + WAIT
    while large_done[0] < MIB and time.monotonic() < deadline:
        time.sleep(0.02)
    small_thread, small_errors = in_thread(
        lambda: source.download(small, list(small.files), str(tmp_path / "small"))
    )
    small_thread.join(WAIT)
    large_when_small_ended = large_done[0]
    large_running = large_thread.is_alive()
    stop_large.set()
    large_thread.join(WAIT)

    assert small_errors == []
    assert large_running
    assert large_when_small_ended < large_total // 4
    assert (tmp_path / "small" / "small.gguf").read_bytes() == hub_bytes(
        hub, SMALL_REPO, "small.gguf"
    )
    assert [type(e) for e in large_errors] == [DownloadCancelled]
