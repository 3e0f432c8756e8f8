"""A source's files served as plain files over HTTP, no Hub API: `PlainFileServer` is the
downloader's `FileServer` for them (what a source plugin writes, docs/plugins.md), and
`serve_folder` a tiny local HTTP server with `Range` support that can cut an answer short."""

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import httpx2

from devon_adapters.transfer.file_server import byte_headers, describe_exception
from devon_adapters.transfer.retrying import RETRIED_STATUSES
from devon_core.errors import DevonError, DownloadFailed


class PlainFileServer:
    """Files at `<base_url>/<model id>/<path>` (one revision: the server has no other)."""

    name = "the file server"
    http_errors: tuple[type[Exception], ...] = (httpx2.HTTPStatusError,)

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._client = httpx2.Client()

    def file_url(self, model_id: str, path: str, revision: str | None) -> str:
        return f"{self._base_url}/{model_id}/{path}"

    @contextmanager
    def open_file(
        self, url: str, start: int, read_timeout: float, end: int | None = None
    ) -> Iterator[httpx2.Response]:
        timeout = httpx2.Timeout(10.0, read=read_timeout)
        headers = byte_headers(start, end)
        with self._client.stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
                response.raise_for_status()
            yield response

    def transient(self, error: Exception) -> bool:
        if isinstance(error, httpx2.HTTPStatusError):
            return error.response.status_code in RETRIED_STATUSES
        return isinstance(error, httpx2.TransportError)

    def describe_failure(self, error: Exception) -> str:
        if isinstance(error, httpx2.HTTPStatusError):
            return f"the file server answered HTTP {error.response.status_code}"
        return describe_exception(error)

    def download_error(self, error: Exception, model_id: str) -> DevonError:
        return DownloadFailed(
            f"Download of {model_id} failed ({self.describe_failure(error)}); "
            "run the download again to resume"
        )


class Served:
    """What the server was asked (path and the `Range` header, if any, of every GET) and
    the faults it is told to play."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = ""
        """Where the server answers (set once it listens)."""
        self.requests: list[tuple[str, str | None]] = []
        self.cut_after: dict[str, int] = {}
        """Path -> bytes after which its next answer stops (once)."""
        self._lock = threading.Lock()

    def ranges_asked(self, path: str) -> list[str | None]:
        with self._lock:
            return [asked for p, asked in self.requests if p == path]

    def note(self, path: str, asked: str | None) -> int | None:
        """Record a GET; how many bytes to send before cutting it, if it is to be cut."""
        with self._lock:
            self.requests.append((path, asked))
            return self.cut_after.pop(path, None)


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = unquote(self.path.lstrip("/"))
            asked = self.headers.get("Range")
            cut = served.note(path, asked)
            data = (served.root / path).read_bytes()
            start, end = 0, len(data)
            if asked and (match := re.fullmatch(r"bytes=(\d+)-(\d*)", asked)):
                start = int(match[1])
                end = int(match[2]) + 1 if match[2] else len(data)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(end - start))
            self.end_headers()
            body = data[start:end]
            self.wfile.write(body if cut is None else body[:cut])

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve_folder(root: Path) -> Iterator[Served]:
    """Serve the files under `root` on 127.0.0.1 until the block ends."""
    served = Served(root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
