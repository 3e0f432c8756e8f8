"""A hostile Hub: a small HTTP server on real sockets whose answers a test writes (endless
JSON, a trickle, a record with hostile names, a file longer than listed, a redirect), and
which records what it was asked and how much of each answer it could send before DEVON
hung up."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import socket
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest

Answer = Callable[["Handler"], None]


@attrs.define
class Asked:
    """One request the hostile Hub received."""

    method: str
    path: str
    headers: dict[str, str]
    sent: int = 0
    """Bytes of the answer written before it ended (or the client hung up)."""
    hung_up_at: float | None = None
    """`time.monotonic()` when writing failed because the client closed the connection."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "HostileServer"

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.asked = Asked(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        self.server.hub.asked.append(self.asked)
        path = urlsplit(self.path).path
        answer = self.server.hub.answer_for(path)
        try:
            answer(self)
        except OSError:
            self.asked.hung_up_at = time.monotonic()
            self.close_connection = True

    def send(self, data: bytes) -> None:
        """Write `data` now (raises OSError once the client has gone)."""
        self.wfile.write(data)
        self.wfile.flush()
        self.asked.sent += len(data)

    def start(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True
    hub: "HostileHub"


@attrs.define
class HostileHub:
    """Answers by path prefix (longest first); anything else is a 404."""

    url: str = ""
    answers: dict[str, Answer] = attrs.field(factory=dict)
    asked: list[Asked] = attrs.field(factory=list)

    def answer_for(self, path: str) -> Answer:
        for prefix in sorted(self.answers, key=len, reverse=True):
            if path.startswith(prefix):
                return self.answers[prefix]
        return json_answer({"error": "Repository not found"}, status=404)

    def asked_for(self, prefix: str) -> list[Asked]:
        return [a for a in self.asked if urlsplit(a.path).path.startswith(prefix)]


@contextmanager
def serving_hostile(
    listener: socket | None = None, host: str = "127.0.0.1"
) -> Iterator[HostileHub]:
    """A hostile Hub on `listener` (a bound, listening socket: one in another network
    namespace) or on a free port of `host`."""
    if listener is None:
        server = HostileServer((host, 0), Handler)
    else:
        server = HostileServer(listener.getsockname()[:2], Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = listener
    address, port = server.socket.getsockname()[:2]
    shown = f"[{address}]" if ":" in address else address
    server.hub = HostileHub(url=f"http://{shown}:{port}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(name="hub")
def hostile_hub_fixture() -> Iterator[HostileHub]:
    """A hostile Hub of each test's own, as the fixture `hub` of the modules that import it."""
    with serving_hostile() as hub:
        yield hub


# ---- answers ---------------------------------------------------------------------------


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    data = json.dumps(body).encode()

    def answer(handler: Handler) -> None:
        handler.start(
            status,
            {
                "Content-Type": "application/json",
                "Content-Length": str(len(data)),
                **(headers or {}),
            },
        )
        if handler.command != "HEAD":
            handler.send(data)

    return answer


def endless(opening: bytes, item: bytes, every_s: float = 0.0) -> Answer:
    """`opening`, then `item` again and again (each after `every_s`), until the client hangs
    up: a body without a length, over a connection that closes at its end."""

    def answer(handler: Handler) -> None:
        handler.close_connection = True
        handler.start(200, {"Content-Type": "application/json", "Connection": "close"})
        handler.send(opening)
        while True:
            if every_s:
                time.sleep(every_s)
            handler.send(item)

    return answer


def endless_model_list() -> Answer:
    """`/api/models` as `[` and models without end."""
    item = json.dumps({"id": "hostile/model", "downloads": 1, "tags": ["x" * 200]}) + ","
    return endless(b"[", item.encode() * 64)


def endless_siblings(model_id: str) -> Answer:
    """A model record whose `siblings` list never ends."""
    opening = json.dumps({"id": model_id, "sha": "0" * 40})[:-1] + ', "siblings": ['
    item = json.dumps({"rfilename": "shard.bin", "size": 1}) + ","
    return endless(opening.encode(), item.encode() * 256)


def redirect(location: str, status: int = 302) -> Answer:
    def answer(handler: Handler) -> None:
        handler.start(status, {"Location": location, "Content-Length": "0"})

    return answer


def file_answer(content: bytes, claimed_length: int | None = None) -> Answer:
    """A file's bytes (ranges ignored: always the whole of it, as a 200), with a
    `Content-Length` of `claimed_length` when given (more than it sends: the client waits)."""

    def answer(handler: Handler) -> None:
        length = len(content) if claimed_length is None else claimed_length
        handler.start(200, {"Content-Length": str(length), "ETag": '"hostile"'})
        if handler.command != "HEAD":
            handler.send(content)

    return answer


def model_record(model_id: str, files: dict[str, int], sha: str = "1" * 40) -> dict[str, Any]:
    """A model record as the Hub's `/api/models/{id}?blobs=true` gives it."""
    return {
        "id": model_id,
        "modelId": model_id,
        "sha": sha,
        "downloads": 1,
        "likes": 0,
        "tags": [],
        "siblings": [{"rfilename": name, "size": size} for name, size in files.items()],
    }


def long_file(total: int, claimed_length: int | None = None, chunk: int = 64 * 1024) -> Answer:
    """`total` bytes as a 200 (ranges ignored), announced as `claimed_length` bytes, or with
    no length at all (the connection closes at the end) when None."""

    def answer(handler: Handler) -> None:
        headers = {"ETag": '"hostile"'}
        if claimed_length is None:
            handler.close_connection = True
            headers["Connection"] = "close"
        else:
            headers["Content-Length"] = str(claimed_length)
        handler.start(200, headers)
        sent = 0
        while handler.command != "HEAD" and sent < total:
            handler.send(b"\0" * min(chunk, total - sent))
            sent += chunk

    return answer


def ranges_with_extra(size: int, extra: int) -> Answer:
    """A `Range` answered as a 206 that says exactly the span asked for, without a length,
    then sends `extra` bytes more than the span."""

    def answer(handler: Handler) -> None:
        asked = handler.headers.get("Range", f"bytes=0-{size - 1}").removeprefix("bytes=")
        first, _, last = asked.partition("-")
        start, end = int(first), int(last) + 1 if last else size
        handler.close_connection = True
        handler.start(
            206, {"Content-Range": f"bytes {start}-{end - 1}/{size}", "Connection": "close"}
        )
        handler.send(b"\0" * (end - start + extra))

    return answer
