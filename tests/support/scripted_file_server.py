"""A `FileServer` whose answers follow a script, in process (no sockets): each range request
gets the bytes it asks for from one in-memory file, in chunks, except that a request the
test holds (`hold`, `hold_from`) sends `first` bytes and then waits: until `go` (then the
rest), or until the downloader closes it (then the read fails like a cut connection). With
a `FakeClock`, rates and stalls are whatever the test says they are."""

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2

from devon_adapters.transfer.file_server import describe_exception
from devon_core.errors import DevonError, DownloadFailed
from devon_core.models import RemoteFile, RemoteModel

CHUNK = 16 * 1024


class FakeClock:
    """Seconds that move only when the test says."""

    def __init__(self) -> None:
        self._now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class Held:
    """A request the test holds after its first `first` bytes."""

    def __init__(self, first: int) -> None:
        self.first = first
        self.sent_first = threading.Event()
        self.go = threading.Event()


class _Stream(httpx2.SyncByteStream):
    def __init__(self, server: "ScriptedServer", span: tuple[int, int], held: Held | None) -> None:
        self._server = server
        self._span = span
        self._held = held
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        start, end = self._span
        position = start
        while position < end:
            if self._held is not None and position - start >= self._held.first:
                self._held.sent_first.set()
                while not self._held.go.wait(0.01):
                    if self._closed.is_set():
                        raise httpx2.ReadError("closed by the downloader")
                self._held = None
            if self._closed.is_set():
                raise httpx2.ReadError("closed by the downloader")
            stop = min(position + CHUNK, end)
            if self._held is not None:
                stop = min(stop, start + self._held.first)
            self._server.count_sent(stop - position)
            if self._server.clock is not None:
                self._server.clock.advance(self._server.seconds_per_chunk)
            yield self._server.data[position:stop]
            position = stop

    def close(self) -> None:
        self._closed.set()


class ScriptedServer:
    """Serves `data` as one file; `hold(n, first)` holds the n-th request (from 0)."""

    name = "the scripted server"
    http_errors: tuple[type[Exception], ...] = (httpx2.HTTPStatusError,)

    def __init__(
        self, data: bytes, clock: FakeClock | None = None, seconds_per_chunk: float = 0.0
    ) -> None:
        self.data = data
        self.clock = clock
        self.seconds_per_chunk = seconds_per_chunk
        """Each chunk sent moves `clock` on this much (a fast connection's time)."""
        self.asked: list[tuple[int, int]] = []
        self.sent = 0
        self._held: dict[int, Held] = {}
        self._held_from: dict[int, Held] = {}
        self._lock = threading.Lock()

    def hold(self, request: int, first: int) -> Held:
        held = Held(first)
        self._held[request] = held
        return held

    def hold_from(self, start: int, first: int) -> Held:
        """Hold the first request that starts at byte `start`."""
        held = Held(first)
        self._held_from[start] = held
        return held

    def count_sent(self, count: int) -> None:
        with self._lock:
            self.sent += count

    def file_url(self, model_id: str, path: str, revision: str | None) -> str:
        return f"http://scripted.invalid/{model_id}/{path}"

    @contextmanager
    def open_file(
        self, url: str, start: int, read_timeout: float, end: int | None = None
    ) -> Iterator[httpx2.Response]:
        stop = len(self.data) if end is None else end
        with self._lock:
            number = len(self.asked)
            self.asked.append((start, stop))
            held = self._held.get(number) or self._held_from.pop(start, None)
        headers = {
            "Content-Length": str(stop - start),
            "Content-Range": f"bytes {start}-{stop - 1}/{len(self.data)}",
        }
        stream = _Stream(self, (start, stop), held)
        response = httpx2.Response(206, headers=headers, stream=stream)
        try:
            yield response
        finally:
            response.close()

    def transient(self, error: Exception) -> bool:
        return isinstance(error, httpx2.TransportError)

    def describe_failure(self, error: Exception) -> str:
        return describe_exception(error)

    def download_error(self, error: Exception, model_id: str) -> DevonError:
        return DownloadFailed(f"{model_id}: {error}")


def model_of(data: bytes) -> tuple[RemoteModel, list[RemoteFile]]:
    """A one-file model whose file holds `data` (what a scripted server serves)."""
    file = RemoteFile("weights.bin", len(data), hashlib.sha256(data).hexdigest())
    model = RemoteModel(
        source="scripted",
        model_id="acme/scripted",
        model_name="scripted",
        author="acme",
        total_size_bytes=len(data),
        file_count=1,
        revision="0" * 40,
        files=(file,),
    )
    return model, [file]
