"""Large files fetched as concurrent `Range` requests against the test hub: byte-identical at
odd sizes, a cut or failing range retried alone, a server without ranges, a wrong
`Content-Range`, a kill -9 resumed by fetching only what is missing (ADR 0120)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from devon_adapters.huggingface import HuggingFaceSource
from devon_core import DownloadFailed, InsufficientStorage
from devon_core.models import RemoteFile, RemoteModel
from devon_testhub import Catalogue, Repo, TestHub, filler_file, hub_file, json_file, run_test_hub
from tests.support.fixtures import cleared
from tests.support.hf_helpers import files_under, hub_bytes, source_for

MIB = 1024 * 1024
REPO = "bigco/Odd-Sizes"
BIG = "weights.safetensors"
SIZES = {BIG: 5 * MIB + 4097, "other.gguf": 3 * MIB - 1, "exact.bin": 2 * MIB}
RANGED = {"split_threshold": MIB, "connections_per_file": 4}
"""Every file above 1 MiB goes as 4 connections; pieces are 1 MiB (the smallest)."""


def odd_catalogue() -> Catalogue:
    files = [hub_file(name, filler_file(size, f"{REPO}/{name}")) for name, size in SIZES.items()]
    files.append(hub_file("config.json", json_file({"model_type": "llama"})))
    return Catalogue.default().with_repo(Repo(id=REPO, files=tuple(files)))


@pytest.fixture(scope="module")
def odd_hub() -> Iterator[TestHub]:
    with run_test_hub(odd_catalogue()) as hub:
        yield hub


@pytest.fixture
def hub(odd_hub: TestHub) -> Iterator[TestHub]:
    yield from cleared(odd_hub)


def ranged_source(hub: TestHub, **options: Any) -> HuggingFaceSource:
    return source_for(hub, **(RANGED | options))


def only(model: RemoteModel, *paths: str) -> list[RemoteFile]:
    return [f for f in model.files if f.path in paths]


def record_of(dest: Path, path: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(
        (dest / ".cache/devon/partial" / f"{path}.part.json").read_text()
    )
    return record


def file_bytes_served(hub: TestHub, path: str) -> int:
    """Bytes of `path` itself the hub sent (error bodies left out)."""
    return sum(r.bytes_sent for r in hub.stats.requests(path, "GET") if r.status in (200, 206))


def spans_of(hub: TestHub, path: str) -> list[tuple[int, int]]:
    """(start, end) of the body bytes each GET of `path` really sent, in file order."""
    spans = []
    for record in hub.stats.requests(path, "GET"):
        start = record.range_start or 0
        spans.append((start, start + record.bytes_sent))
    return sorted(spans)


@pytest.mark.parametrize("path", sorted(SIZES))
def test_large_file_of_odd_size_arrives_byte_identical_through_several_ranges(
    hub: TestHub, tmp_path: Path, path: str
) -> None:
    source = ranged_source(hub)
    model = source.info(REPO)

    source.download(model, only(model, path), str(tmp_path))

    assert files_under(tmp_path) == {path: hub_bytes(hub, REPO, path)}
    gets = hub.stats.requests(path, "GET")
    assert len(gets) >= -(-SIZES[path] // MIB)  # a piece per MiB, or more when work moved
    assert all(r.status == 206 for r in gets)
    assert hub.stats.bytes_served(path) == SIZES[path]


def test_ranges_sent_cover_the_file_once_without_overlap(hub: TestHub, tmp_path: Path) -> None:
    source = ranged_source(hub)
    model = source.info(REPO)

    source.download(model, only(model, BIG), str(tmp_path))

    spans = spans_of(hub, BIG)
    assert spans[0][0] == 0
    assert spans[-1][1] == SIZES[BIG]
    assert all(a[1] == b[0] for a, b in pairwise(spans))


def test_file_at_or_under_the_threshold_is_one_stream(hub: TestHub, tmp_path: Path) -> None:
    source = ranged_source(hub, split_threshold=SIZES[BIG])
    model = source.info(REPO)

    source.download(model, only(model, BIG, "config.json"), str(tmp_path))

    assert [r.range_header for r in hub.stats.requests(BIG, "GET")] == [None]
    assert hub.stats.count("config.json", "GET") == 1


def test_progress_counts_the_bytes_of_every_range_up_to_the_total(
    hub: TestHub, tmp_path: Path
) -> None:
    source = ranged_source(hub)
    model = source.info(REPO)
    files = only(model, *SIZES)
    total = sum(f.size_bytes for f in files)
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def progress(done: int, all_bytes: int) -> None:
        with lock:
            seen.append((done, all_bytes))

    source.download(model, files, str(tmp_path), progress)

    dones = [done for done, _ in seen]
    assert dones == sorted(dones)
    assert seen[-1] == (total, total)
    assert len({done for done in dones if 0 < done < total}) >= len(SIZES)


class Cancelled(Exception):
    pass


def test_progress_callback_raising_stops_every_range_and_keeps_what_landed(
    hub: TestHub, tmp_path: Path
) -> None:
    source = ranged_source(hub)
    model = source.info(REPO)

    def cancel_midway(done: int, total: int) -> None:
        if done >= total // 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        source.download(model, only(model, BIG), str(tmp_path), cancel_midway)
    kept = sum(e - s for s, e in record_of(tmp_path, BIG)["spans"])
    part_size = (tmp_path / ".cache/devon/partial" / f"{BIG}.part").stat().st_size
    hub.stats.reset()
    source.download(model, only(model, BIG), str(tmp_path))

    assert kept >= SIZES[BIG] // 2
    assert part_size == SIZES[BIG]  # preallocated, written in place
    assert file_bytes_served(hub, BIG) == SIZES[BIG] - kept
    assert (tmp_path / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)


def test_a_cancel_while_the_hub_has_stalled_stops_at_the_first_read_timeout(
    hub: TestHub, tmp_path: Path
) -> None:
    source = ranged_source(hub, read_timeout=0.5, download_retries=5, retry_delay=2.0)
    model = source.info(REPO)
    cancelled = threading.Event()

    def cancel_when_asked(done: int, total: int) -> None:
        if cancelled.is_set():
            raise Cancelled

    hub.faults.hang(BIG)
    outcome: list[BaseException] = []

    def fetch() -> None:
        try:
            source.download(model, only(model, BIG), str(tmp_path), cancel_when_asked)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=fetch)
    thread.start()
    deadline = time.monotonic() + 30
    while hub.stats.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    cancelled.set()  # the person cancels while nothing arrives: no byte reports it
    started = time.monotonic()
    thread.join(60)
    hub.faults.release()

    assert [type(e) for e in outcome] == [Cancelled]
    assert time.monotonic() - started < 8


def test_connections_of_the_process_stay_within_the_bound(hub: TestHub, tmp_path: Path) -> None:
    source = ranged_source(hub, connections_per_file=8, max_connections=2)
    model = source.info(REPO)
    hub.faults.limit_connection_rate(8 * MIB)  # long enough for requests to overlap
    hub.stats.reset()

    source.download(model, only(model, *SIZES), str(tmp_path))

    # Counted over the answers the client read to their end: one whose range was stolen is
    # closed by the client at once, but the hub notices only at its next write, after the
    # connection taking its place may have begun. Each ends with its last write: a body read
    # straight from the socket closes its connection (ADR 0298), and the hub may record the
    # end after the client's next request, on a new connection, has begun.
    whole = [r for r in hub.stats.requests("/resolve/", "GET") if r.completed]
    assert most_at_once((r.ended_at - r.duration_s, r.last_write_at) for r in whole) == 2
    assert set(files_under(tmp_path)) == set(SIZES)


def most_at_once(spans: Iterable[tuple[float, float]]) -> int:
    """The most of these (start, end) spans that overlap at one moment."""
    edges = sorted(edge for start, end in spans for edge in ((start, 1), (end, -1)))
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_cut_range_is_retried_alone_from_the_byte_it_reached(hub: TestHub, tmp_path: Path) -> None:
    source = ranged_source(hub)
    model = source.info(REPO)
    hub.faults.cut_transfers(after_bytes=300_000, times=1, path_contains=BIG, skip=2)

    source.download(model, only(model, BIG), str(tmp_path))

    assert (tmp_path / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)
    assert hub.stats.bytes_served(BIG) == SIZES[BIG]
    cut = next(r for r in hub.stats.requests(BIG, "GET") if not r.completed)
    assert cut.range_start is not None
    resumed_at = cut.range_start + 300_000
    assert resumed_at in hub.stats.range_starts(BIG)
    assert hub.stats.count(BIG, "GET") == -(-SIZES[BIG] // MIB) + 1


def test_failing_range_is_retried_alone_and_the_others_are_not_asked_again(
    hub: TestHub, tmp_path: Path
) -> None:
    source = ranged_source(hub)
    model = source.info(REPO)
    hub.faults.fail_requests(503, times=2, path_contains=BIG, skip=3, method="GET")

    source.download(model, only(model, BIG), str(tmp_path))

    assert (tmp_path / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)
    assert file_bytes_served(hub, BIG) == SIZES[BIG]
    failed = [r for r in hub.stats.requests(BIG, "GET") if r.status == 503]
    assert len(failed) == 2
    asked = Counter(r.range_header for r in hub.stats.requests(BIG, "GET"))
    asked_again = asked - Counter(set(asked))
    assert asked_again == Counter(r.range_header for r in failed)


def test_range_failing_past_the_retries_fails_the_download_and_keeps_what_landed(
    hub: TestHub, tmp_path: Path
) -> None:
    source = ranged_source(hub, download_retries=1)
    model = source.info(REPO)
    hub.faults.fail_requests(503, times=100, path_contains=BIG, skip=3, method="GET")

    with pytest.raises(DownloadFailed, match="HTTP 503"):
        source.download(model, only(model, BIG), str(tmp_path))
    hub.reset()
    source.download(model, only(model, BIG), str(tmp_path))

    assert (tmp_path / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)
    assert file_bytes_served(hub, BIG) < SIZES[BIG]


def test_server_ignoring_range_is_read_as_one_stream(hub: TestHub, tmp_path: Path) -> None:
    source = ranged_source(hub)
    model = source.info(REPO)
    hub.faults.ignore_ranges(BIG)
    seen: list[int] = []

    source.download(model, only(model, BIG), str(tmp_path), lambda done, _: seen.append(done))

    assert (tmp_path / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)
    assert hub.stats.requests(BIG, "GET")[-1].range_header is None
    assert seen == sorted(seen)
    assert seen[-1] == SIZES[BIG]


@pytest.mark.parametrize("verify", [True, False], ids=["verified", "unverified"])
def test_wrong_content_range_fails_and_its_bytes_never_land_in_the_file(
    hub: TestHub, tmp_path: Path, verify: bool
) -> None:
    source = ranged_source(hub, verify_checksums=verify)
    model = source.info(REPO)
    hub.faults.shift_ranges(by_bytes=4096, times=1, path_contains=BIG, skip=1)

    with pytest.raises(DownloadFailed, match="Content-Range"):
        source.download(model, only(model, BIG), str(tmp_path))
    hub.reset()
    source.download(model, only(model, BIG), str(tmp_path))

    assert (tmp_path / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)


def test_whole_ranged_part_left_unchecked_is_verified_without_transfer(
    hub: TestHub, tmp_path: Path
) -> None:
    source = ranged_source(hub)
    model = source.info(REPO)
    [big] = only(model, BIG)
    part = tmp_path / ".cache/devon/partial" / f"{BIG}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(hub_bytes(hub, REPO, BIG))
    record = {"revision": model.revision, "sha256": big.sha256, "size": big.size_bytes}
    (part.parent / f"{BIG}.part.json").write_text(
        json.dumps(record | {"spans": [[0, big.size_bytes]]})
    )

    source.download(model, [big], str(tmp_path))

    assert hub.stats.count("/resolve/") == 0
    assert (tmp_path / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)


def test_ranged_part_of_another_revision_is_started_anew(hub: TestHub, tmp_path: Path) -> None:
    source = ranged_source(hub, verify_checksums=False)
    model = source.info(REPO)
    [big] = only(model, BIG)
    part = tmp_path / ".cache/devon/partial" / f"{BIG}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"X" * big.size_bytes)
    record = {"revision": "0" * 40, "sha256": None, "size": big.size_bytes}
    (part.parent / f"{BIG}.part.json").write_text(
        json.dumps(record | {"spans": [[0, big.size_bytes]]})
    )

    source.download(model, [big], str(tmp_path))

    assert hub.stats.bytes_served(BIG) == SIZES[BIG]
    assert (tmp_path / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)


CHILD = """
import sys
from devon_adapters.huggingface import HuggingFaceSource
endpoint, dest, path = sys.argv[1:]
source = HuggingFaceSource(endpoint=endpoint, token=False, retry_delay=0.0, cache_ttl=0.0,
                           split_threshold=1024 * 1024, connections_per_file=4)
model = source.info(REPO)
source.download(model, [f for f in model.files if f.path == path], dest)
""".replace("REPO", repr(REPO))


def test_kill_9_mid_download_then_resume_fetches_only_what_is_missing(tmp_path: Path) -> None:
    with run_test_hub(odd_catalogue()) as hub:
        hub.faults.limit_connection_rate(MIB // 2)  # ~2 MiB/s for 4 connections: seconds
        dest = tmp_path / "staging"
        landed = kill_9_once_landed(hub, dest, SIZES[BIG] // 3)
        hub.faults.limit_connection_rate(0)
        first_attempt = hub.stats.bytes_served(BIG)

        resume(hub, dest)

        assert (dest / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)
        assert landed < first_attempt < SIZES[BIG]
        assert hub.stats.bytes_served(BIG) < 1.3 * SIZES[BIG]
        assert hub.stats.bytes_served(BIG) - first_attempt <= SIZES[BIG] - landed


def test_kill_9_after_a_range_was_split_then_resume_fetches_only_what_is_missing(
    tmp_path: Path,
) -> None:
    with run_test_hub(odd_catalogue()) as hub:
        # One connection in four crawls: the others steal most of its range.
        hub.faults.vary_connection_rates([20_000, 400_000, 400_000, 400_000])
        dest = tmp_path / "staging"
        landed = kill_9_once_landed(hub, dest, SIZES[BIG] // 4, after=wait_for_a_split)
        hub.faults.vary_connection_rates([])
        first_attempt = hub.stats.bytes_served(BIG)

        resume(hub, dest)

        assert (dest / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)
        assert hub.stats.bytes_served(BIG) - first_attempt <= SIZES[BIG] - landed


def kill_9_once_landed(
    hub: TestHub,
    dest: Path,
    at_least: int,
    after: Callable[[TestHub, "subprocess.Popen[bytes]"], None] | None = None,
) -> int:
    """Download BIG into `dest` in a child process, kill -9 it once `after` (if given)
    returned and the record says `at_least` bytes landed; how many it says."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, hub.url, str(dest), BIG],
        env={**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1"},
        stderr=subprocess.PIPE,
    )
    try:
        if after is not None:
            after(hub, child)
        landed = wait_until_landed(dest, BIG, at_least, child)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return landed


def resume(hub: TestHub, dest: Path) -> None:
    source = ranged_source(hub)
    model = source.info(REPO)
    source.download(model, only(model, BIG), str(dest))


def wait_for_a_split(hub: TestHub, child: "subprocess.Popen[bytes]") -> None:
    """Until a range that starts inside a piece (one taken from another connection) began."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert child.poll() is None, "the download ended before a range was split"
        starts = [r for _, r in hub.stats.begun(BIG) if r]
        if any(int(r.removeprefix("bytes=").split("-")[0]) % MIB for r in starts):
            return
        time.sleep(0.02)
    raise AssertionError("no range was split within 120 s")


def wait_until_landed(dest: Path, path: str, at_least: int, child: subprocess.Popen[bytes]) -> int:
    """Bytes the `.part`'s record says are on disk, once at least `at_least` (generous
    deadline: the machine may be loaded)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if child.poll() is not None:
            errors = child.stderr.read().decode() if child.stderr else ""
            raise AssertionError(f"the download ended first: {errors}")
        try:
            spans = record_of(dest, path).get("spans", [])
        except (OSError, ValueError):
            spans = []
        landed = int(sum(end - start for start, end in spans))
        if landed >= at_least:
            return landed
        time.sleep(0.02)
    raise AssertionError("the download did not get going within 120 s")


def test_prefix_kept_by_one_stream_is_not_fetched_again_as_ranges(
    hub: TestHub, tmp_path: Path
) -> None:
    one_stream = source_for(hub, download_retries=0)
    model = one_stream.info(REPO)
    hub.faults.cut_transfers(after_bytes=2 * MIB + 5, times=1, path_contains=BIG)
    hub.faults.fail_requests(503, times=1, path_contains=BIG, skip=1)
    with pytest.raises(DownloadFailed):
        one_stream.download(model, only(model, BIG), str(tmp_path))
    hub.reset()

    ranged_source(hub).download(model, only(model, BIG), str(tmp_path))

    assert (tmp_path / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)
    assert min(s for s in hub.stats.range_starts(BIG) if s is not None) == 2 * MIB + 5
    assert file_bytes_served(hub, BIG) == SIZES[BIG] - (2 * MIB + 5)


def test_ranged_part_is_resumed_from_its_prefix_when_fetched_as_one_stream(
    hub: TestHub, tmp_path: Path
) -> None:
    source = ranged_source(hub, connections_per_file=2, download_retries=0)
    model = source.info(REPO)
    hub.faults.fail_requests(503, times=100, path_contains=BIG, skip=3, method="GET")
    with pytest.raises(DownloadFailed):
        source.download(model, only(model, BIG), str(tmp_path))
    prefix = record_of(tmp_path, BIG)["spans"][0]
    hub.reset()

    source_for(hub).download(model, only(model, BIG), str(tmp_path))

    assert prefix[0] == 0
    assert hub.stats.range_starts(BIG) == [prefix[1]]
    assert (tmp_path / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)


def test_corrupted_large_file_is_caught_by_the_prefix_hash_and_deleted(
    hub: TestHub, tmp_path: Path
) -> None:
    source = ranged_source(hub)
    model = source.info(REPO)
    hub.faults.corrupt(REPO, BIG)

    with pytest.raises(DownloadFailed, match=f"Checksum mismatch for {BIG}"):
        source.download(model, only(model, BIG), str(tmp_path))

    assert not (tmp_path / BIG).exists()
    assert not (tmp_path / ".cache/devon/partial" / f"{BIG}.part").exists()
    assert hub.stats.count(BIG, "GET") > 1


def test_full_disk_while_making_a_stream_prefix_ranged_keeps_the_prefix_for_the_next_attempt(
    hub: TestHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_stream = source_for(hub, download_retries=0)
    model = one_stream.info(REPO)
    hub.faults.cut_transfers(after_bytes=2 * MIB + 5, times=1, path_contains=BIG)
    hub.faults.fail_requests(503, times=1, path_contains=BIG, skip=1)
    with pytest.raises(DownloadFailed):
        one_stream.download(model, only(model, BIG), str(tmp_path))
    hub.reset()

    def disk_full(fd: int, offset: int, length: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "posix_fallocate", disk_full)
        # A full disk is InsufficientStorage (507), like a refusal up front (issue 19).
        with pytest.raises(InsufficientStorage, match="Not enough free disk space"):
            ranged_source(hub).download(model, only(model, BIG), str(tmp_path))

    ranged_source(hub).download(model, only(model, BIG), str(tmp_path))

    assert (tmp_path / BIG).read_bytes() == hub_bytes(hub, REPO, BIG)
    assert file_bytes_served(hub, BIG) == SIZES[BIG] - (2 * MIB + 5)


def test_ranged_attempt_that_lands_no_byte_leaves_no_full_size_part_behind(
    hub: TestHub, tmp_path: Path
) -> None:
    source = ranged_source(hub)
    model = source.info(REPO)
    hub.faults.shift_ranges(by_bytes=4096, times=100, path_contains=BIG)

    with pytest.raises(DownloadFailed, match="Content-Range"):
        source.download(model, only(model, BIG), str(tmp_path))

    assert not (tmp_path / ".cache/devon/partial" / f"{BIG}.part").exists()
