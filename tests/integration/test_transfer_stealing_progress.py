"""Progress stays honest while ranges are stolen and stalled connections dropped (ADR 0225):
a scripted server in process and a fake clock, real files on disk."""

import json
import threading
import time
from pathlib import Path

from devon_adapters.transfer.downloading import Downloader, DownloadOptions
from devon_core.errors import DownloadCancelled
from tests.support.scripted_file_server import FakeClock, ScriptedServer, model_of

KIB = 1024
SIZE = 4 * 1024 * KIB
PIECE = 256 * KIB
"""Two connections, pieces of 256 KiB (8 per connection), steals down to 64 KiB."""
DATA = bytes((i * 7 + i // 251) % 256 for i in range(SIZE))


def options(clock: FakeClock, **changes: object) -> DownloadOptions:
    settings: dict[str, object] = {
        "split_threshold": KIB,
        "connections_per_file": 2,
        "max_connections_per_file": 2,
        "smallest_piece": 64 * KIB,
        "retry_delay": 0.0,
        "clock": clock,
    }
    return DownloadOptions(**(settings | changes))  # type: ignore[arg-type]


class Recorder:
    """The progress callback: every (done, total) it heard, and the steps between them."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self.seen.append(done)

    @property
    def counted(self) -> int:
        """Bytes the callback was told of, step by step (each step counted once)."""
        return sum(max(b - a, 0) for a, b in zip([0, *self.seen], self.seen, strict=False))


def run_in_thread(target: object) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()  # type: ignore[operator]
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)  # a failed test must not hang the run
    thread.start()
    return thread, errors


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.005)


def test_a_stolen_range_is_counted_once_and_the_file_arrives_whole(tmp_path: Path) -> None:
    clock = FakeClock()
    server = ScriptedServer(DATA, clock, seconds_per_chunk=0.001)  # 16 MB/s when not held
    slow = server.hold(0, first=64 * KIB)  # the first connection stops after 64 KiB
    model, files = model_of(DATA)
    progress = Recorder()
    downloader = Downloader(server, options(clock))
    thread, errors = run_in_thread(
        lambda: downloader.download(model, files, str(tmp_path), progress)
    )
    slow.sent_first.wait(30)
    clock.advance(2.0)  # the slow connection: 64 KiB in 2 s
    wait_until(lambda: len(server.asked) >= SIZE // PIECE + 1, "the other connection to steal")
    slow.go.set()
    thread.join(60)

    assert errors == []
    assert (tmp_path / "weights.bin").read_bytes() == DATA
    stolen = [span for span in server.asked if span[0] % PIECE]
    assert stolen, f"no range was split: {server.asked}"
    assert progress.seen == sorted(progress.seen)
    assert progress.seen[-1] == SIZE
    assert progress.counted == SIZE


def test_a_stalled_connection_is_dropped_its_bytes_kept_and_the_rest_asked_of_another(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    server = ScriptedServer(DATA)
    stalled = server.hold(0, first=64 * KIB)  # never let go: only the downloader ends it
    model, files = model_of(DATA)
    progress = Recorder()
    downloader = Downloader(server, options(clock, stall_timeout=5.0))
    thread, errors = run_in_thread(
        lambda: downloader.download(model, files, str(tmp_path), progress)
    )
    stalled.sent_first.wait(30)
    wait_until(lambda: len(server.asked) >= SIZE // PIECE, "every other piece to be asked")
    clock.advance(6.0)
    thread.join(60)

    assert errors == []
    assert (tmp_path / "weights.bin").read_bytes() == DATA
    assert server.asked[0] == (0, PIECE)
    assert all(start >= 64 * KIB for start, _ in server.asked[1:])  # its bytes were kept
    assert progress.seen[-1] == SIZE
    assert progress.counted == SIZE


def test_a_stop_signal_ends_the_download_with_a_cancel_and_keeps_what_landed(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    server = ScriptedServer(DATA)
    server.hold(0, first=64 * KIB)
    model, files = model_of(DATA)
    stop = threading.Event()
    downloader = Downloader(server, options(clock, max_connections_per_file=1))
    thread, errors = run_in_thread(
        lambda: downloader.download(model, files, str(tmp_path), None, stop)
    )
    wait_until(lambda: server.sent >= 64 * KIB, "the first bytes")
    stop.set()
    stopped_at = time.monotonic()
    thread.join(30)

    assert time.monotonic() - stopped_at < 1.0
    assert [type(e) for e in errors] == [DownloadCancelled]
    record = json.loads((tmp_path / ".cache/devon/partial/weights.bin.part.json").read_text())
    assert record["spans"][0] == [0, 64 * KIB]  # the held connection's bytes stay


def test_the_last_bytes_held_by_a_slow_connection_are_fetched_by_an_idle_one_and_counted_once(
    tmp_path: Path,
) -> None:
    """The request for the file's last piece goes over a connection that sends 16 KiB and
    then nothing: too soon to judge it by its rate, and every other piece is in. The idle
    connection fetches the same bytes, from where the slow one got to (ADR 0295)."""
    clock = FakeClock()
    server = ScriptedServer(DATA, clock, seconds_per_chunk=0.001)  # 16 MB/s when not held
    last = server.hold_from(SIZE - PIECE, first=16 * KIB)  # only the downloader ends it
    model, files = model_of(DATA)
    progress = Recorder()
    downloader = Downloader(server, options(clock, stall_timeout=60.0))
    thread, errors = run_in_thread(
        lambda: downloader.download(model, files, str(tmp_path), progress)
    )
    last.sent_first.wait(30)
    wait_until(lambda: server.sent >= SIZE - PIECE + 16 * KIB, "every other piece")
    clock.advance(0.15)  # 16 KiB in 0.15 s: the slow one would take 2 s more
    thread.join(30)

    assert not thread.is_alive(), "the download waited for the slow connection"
    assert errors == []
    assert (tmp_path / "weights.bin").read_bytes() == DATA
    assert (SIZE - PIECE + 16 * KIB, SIZE) in server.asked  # the same bytes, asked again
    assert progress.seen == sorted(progress.seen)
    assert progress.seen[-1] == SIZE
    assert progress.counted == SIZE
