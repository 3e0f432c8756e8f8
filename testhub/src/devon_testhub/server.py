"""The HTTP server: a threading `http.server` speaking enough of the Hub's API for
`huggingface_hub` to search, read model info, list trees and download."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from devon_testhub.catalogue import Catalogue
from devon_testhub.faults import Faults, RequestRecord, RequestStats
from devon_testhub.repos import HubFile, Repo
from devon_testhub.routes import Route, parse_route
from devon_testhub.search import BadQuery, ListQuery, query_flag, run_query
from devon_testhub.shapes import list_item, model_info, path_entries, tree_entries

logger = logging.getLogger("devon_testhub")

DEFAULT_TOKEN = "hf_devon_testhub_token"  # noqa: S105 - a fixed test credential
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
LIST_PAGE_SIZE = 25
TREE_PAGE_SIZE = 1000
TREE_EXPAND_PAGE_SIZE = 50
PACED_SLICE = 64 * 1024
"""Bytes written at a time while a bandwidth limit is set (smooth pacing)."""


class HubError(Exception):
    """An error the Hub answers with `X-Error-Code` / `X-Error-Message` and `{"error": ...}`."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        commit: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.commit = commit
        self.headers = headers


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
    except (ValueError, KeyError, TypeError) as error:
        raise HubError(400, "Invalid cursor") from error
    if not isinstance(offset, int) or offset < 0:
        raise HubError(400, "Invalid cursor")
    return offset


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) for a single `bytes=` range; None means the whole file.
    Raises HubError(416) when unsatisfiable."""
    unsatisfiable = HubError(
        416, "Requested range not satisfiable", headers=(("Content-Range", f"bytes */{size}"),)
    )
    if not header or not header.startswith("bytes="):
        return None
    spec = header[len("bytes=") :].split(",")[0].strip()
    first, _, last = spec.partition("-")
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                raise unsatisfiable
            return (max(size - length, 0), size - 1)
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        raise unsatisfiable
    return (start, min(end, size - 1))


class _HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], hub: TestHub) -> None:
        self.hub = hub
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _HubHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (closed a kept-alive connection) is not an error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_open_sockets(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "devon-testhub"
    timeout = 60
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK stall every small response by ~40 ms.
    disable_nagle_algorithm = True
    server: _HubHTTPServer

    # Bookkeeping for the request being handled.
    _status = 0
    _bytes_sent = 0
    _last_write_at = 0.0
    _range_start: int | None = None
    _completed = True
    _decoded_path = ""
    _connection_rate: int | None = None
    _served = 0
    """Requests this connection carried before the one being handled."""

    def setup(self) -> None:
        super().setup()
        self._connection_rate = self.hub.faults.rate_for_new_connection()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    @property
    def hub(self) -> TestHub:
        return self.server.hub

    def _token(self) -> str | None:
        header = self.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            return header[len("bearer ") :].strip() or None
        return None

    def _authorised(self) -> bool:
        token = self._token()
        return token is not None and token in self.hub.accepted_tokens

    def _handle(self, method: str) -> None:
        started = time.perf_counter()
        self._status, self._bytes_sent, self._range_start, self._completed = 0, 0, None, True
        self._last_write_at = 0.0
        split = urlsplit(self.path)
        route = parse_route(split.path, self.hub.catalogue)
        decoded_path = unquote(split.path)
        self._decoded_path = decoded_path
        faults = self.hub.faults
        answered = faults.wait_if_hanging(decoded_path, self.hub.stopping, self.connection)
        self.hub.stats.begin(decoded_path, self.headers.get("Range"))
        try:
            if not answered:  # the client closed the connection while the request hung
                self._completed = False
                self.close_connection = True
                return
            form = self._form() if method == "POST" else {}
            if faults.latency_s > 0:
                time.sleep(faults.latency_s)
            if faults.should_drop(decoded_path, method):
                self.close_connection = True
                self._completed = False
                return
            status = faults.failure_for(decoded_path, method)
            if status is not None:
                raise HubError(status, f"Injected failure ({status})")
            params = parse_qs(split.query, keep_blank_values=True)
            if method == "POST":
                if route.kind != "paths-info":
                    raise HubError(405, "Method not allowed")
                params.update(form)
            self._dispatch(method, route, params)
        except HubError as error:
            self._send_error(method, error)
        except (BrokenPipeError, ConnectionResetError):
            self._completed = False
            self.close_connection = True
        except Exception:
            logger.exception("test hub failed on %s %s", method, self.path)
            self._completed = False
            self.close_connection = True
            if self._status == 0:
                self._send_error(method, HubError(500, "Internal error in the test hub"))
        finally:
            self.hub.stats.add(
                RequestRecord(
                    method=method,
                    path=decoded_path,
                    query=split.query,
                    status=self._status,
                    range_header=self.headers.get("Range"),
                    range_start=self._range_start,
                    bytes_sent=self._bytes_sent,
                    authorised=self._authorised(),
                    duration_s=time.perf_counter() - started,
                    completed=self._completed,
                    ended_at=time.monotonic(),
                    reused=self._served > 0,
                    last_write_at=self._last_write_at,
                )
            )
            self._served += 1

    # ---- responses -------------------------------------------------------------------

    def _send_status(self, status: int) -> None:
        self._status = status
        self.send_response(status)

    def _send_json(
        self, method: str, payload: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        body = json.dumps(payload).encode()
        self._send_status(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)
            self._bytes_sent = len(body)

    def _send_error(self, method: str, error: HubError) -> None:
        headers: list[tuple[str, str]] = [("X-Error-Message", error.message)]
        if error.code:
            headers.append(("X-Error-Code", error.code))
        if error.commit:
            headers.append(("X-Repo-Commit", error.commit))
        headers.extend(error.headers)
        self._send_json(method, {"error": error.message}, error.status, headers)

    def _next_link(self, params: dict[str, list[str]], offset: int) -> str:
        query = {key: value for key, value in params.items() if key != "cursor"}
        query["cursor"] = [_encode_cursor(offset)]
        host = self.headers.get("Host") or f"{self.hub.host}:{self.hub.port}"
        path = urlsplit(self.path).path
        return f'<http://{host}{path}?{urlencode(query, doseq=True)}>; rel="next"'

    # ---- routing ---------------------------------------------------------------------

    def _dispatch(self, method: str, route: Route, params: dict[str, list[str]]) -> None:
        if route.kind == "list":
            self._list_models(method, params)
            return
        if route.kind == "whoami":
            self._whoami(method)
            return
        if route.kind == "unknown":
            raise HubError(404, "Sorry, we can't find the page you are looking for.")
        repo = self._visible_repo(route.repo_id)
        if route.revision not in ("main", repo.sha):
            raise HubError(404, f"Invalid rev id: {route.revision}", "RevisionNotFound")
        if route.kind == "resolve":
            self._check_gate(repo)
            self._resolve(method, repo, route.path)
            return
        if self.hub.gate_metadata:
            self._check_gate(repo)
        if route.kind == "info":
            blobs = query_flag(params, "blobs") or query_flag(params, "files_metadata")
            expand = _expand(params)
            self._send_json(method, model_info(repo, blobs=blobs, expand=expand))
        elif route.kind == "paths-info":
            entries = path_entries(repo, params.get("paths", []), query_flag(params, "expand"))
            self._send_json(method, entries)
        else:
            self._tree(method, repo, route.path, params)

    def _form(self) -> dict[str, list[str]]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length > 0 else ""
        return parse_qs(body, keep_blank_values=True)

    def _whoami(self, method: str) -> None:
        if not self._authorised():
            message = "Invalid credentials in Authorization header"
            raise HubError(401, message)
        self._send_json(
            method,
            {
                "type": "user",
                "id": "0" * 24,
                "name": "devon-tester",
                "fullname": "DEVON Tester",
                "isPro": False,
                "orgs": [],
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": "devon-testhub", "role": "read"},
                },
            },
        )

    def _visible_repo(self, repo_id: str) -> Repo:
        repo = self.hub.catalogue.get(repo_id)
        if repo is None or (repo.private and not self._authorised()):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _check_gate(self, repo: Repo) -> None:
        if not repo.gated or self._authorised():
            return
        message = (
            f"Access to model {repo.id} is restricted. You must have access to it and be "
            "authenticated to access it. Please log in."
        )
        status = 401 if self._token() is None else 403
        raise HubError(status, message, "GatedRepo")

    def _list_models(self, method: str, params: dict[str, list[str]]) -> None:
        try:
            query = ListQuery.from_params(params)
        except BadQuery as error:
            raise HubError(400, str(error)) from error
        found = run_query(self.hub.catalogue, query, self._authorised())
        page_size = min(query.limit or self.hub.page_size, self.hub.page_size)
        cursor = params.get("cursor")
        offset = _decode_cursor(cursor[-1]) if cursor else 0
        page = found[offset : offset + page_size]
        items = [
            list_item(
                repo,
                full=query.full,
                card_data=query.card_data,
                config=query.config,
                expand=list(query.expand),
            )
            for repo in page
        ]
        headers = []
        if offset + page_size < len(found):
            headers.append(("Link", self._next_link(params, offset + page_size)))
        self._send_json(method, items, headers=headers)

    def _tree(self, method: str, repo: Repo, path: str, params: dict[str, list[str]]) -> None:
        expand = query_flag(params, "expand")
        entries = tree_entries(repo, path, query_flag(params, "recursive"), expand)
        if entries is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", repo.sha)
        page_size = TREE_EXPAND_PAGE_SIZE if expand else self.hub.tree_page_size
        cursor = params.get("cursor")
        offset = _decode_cursor(cursor[-1]) if cursor else 0
        headers = []
        if offset + page_size < len(entries):
            headers.append(("Link", self._next_link(params, offset + page_size)))
        self._send_json(method, entries[offset : offset + page_size], headers=headers)

    def _resolve(self, method: str, repo: Repo, path: str) -> None:
        item = repo.file(path)
        if item is None:
            raise HubError(404, "Entry not found", "EntryNotFound", repo.sha)
        size = item.size
        faults = self.hub.faults
        asked = None if faults.ignores_ranges(self._decoded_path) else self.headers.get("Range")
        span = _parse_range(asked, size)
        shift = (
            faults.shift_for(self._decoded_path) if span is not None and method == "GET" else None
        )
        if span is not None and shift is not None:
            length = span[1] - span[0]
            moved = min(max(span[0] + shift, 0), size - 1)
            span = (moved, min(moved + length, size - 1))
        start, end = span if span is not None else (0, size - 1)
        self._send_status(206 if span is not None else 200)
        self.send_header("Content-Type", _content_type(item.path))
        self.send_header("Content-Length", str(max(end - start + 1, 0)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{item.etag}"')
        self.send_header("X-Repo-Commit", repo.sha)
        if item.lfs:
            self.send_header("X-Linked-Etag", f'"{item.etag}"')
            self.send_header("X-Linked-Size", str(size))
        name = item.path.rsplit("/", 1)[-1]
        self.send_header("Content-Disposition", f'inline; filename="{name}"')
        if span is not None:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if method == "HEAD":
            return
        self._range_start = start if span is not None else None
        self._stream(repo, item, start, end + 1)

    def _stream(self, repo: Repo, item: HubFile, start: int, end: int) -> None:
        cut = self.hub.faults.cut_for(self._decoded_path)
        stall = self.hub.faults.stall_for(self._decoded_path)
        budget = end - start if cut is None else min(cut, end - start)
        if stall is not None:
            budget = min(stall, budget)
        flip_at = item.size // 2 if self.hub.faults.is_corrupt(repo.id, item.path) else -1
        position = start
        faults = self.hub.faults
        rate = self._connection_rate
        pace = _Pace(faults.connection_rate if rate is None else rate, self.hub.stopping)
        for block in item.content.iter_range(start, start + budget):
            piece = block
            if position <= flip_at < position + len(piece):
                mutable = bytearray(piece)
                mutable[flip_at - position] ^= 0xFF
                piece = bytes(mutable)
            step = PACED_SLICE if faults.bandwidth > 0 else len(piece)
            for offset in range(0, len(piece), step):
                for part in pace.parts(piece[offset : offset + step]):
                    faults.pace(len(part))
                    self._last_write_at = time.monotonic()
                    self.wfile.write(part)
                    position += len(part)
                    self._bytes_sent += len(part)
                    self.hub.stats.sent(len(part))
        if stall is not None and budget < end - start:
            self.wfile.flush()
            self._completed = False
            self.close_connection = True
            faults.wait_while_stalled(self.connection, self.hub.stopping)
            return
        if cut is not None and budget < end - start:
            self._completed = False
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)


class _Pace:
    """Splits a body into small parts and sleeps between them so that it leaves at most
    `rate` bytes per second (0: no limit, no splitting)."""

    PART = 16 * 1024

    def __init__(self, rate: int, stopping: threading.Event) -> None:
        self.rate = rate
        self.stopping = stopping
        self.started = time.monotonic()
        self.sent = 0

    def parts(self, piece: bytes) -> Iterator[bytes]:
        if self.rate <= 0:
            yield piece
            return
        view = memoryview(piece)
        for offset in range(0, len(view), self.PART):
            part = view[offset : offset + self.PART]
            due = self.started + (self.sent + len(part)) / self.rate
            delay = due - time.monotonic()
            if delay > 0 and self.stopping.wait(delay):
                raise ConnectionResetError("the test hub is stopping")
            yield bytes(part)
            self.sent += len(part)


def _expand(params: dict[str, list[str]]) -> list[str]:
    expand: list[str] = []
    for key in ("expand", "expand[]"):
        for value in params.get(key, []):
            expand.extend(part for part in value.split(",") if part)
    return expand


def _content_type(path: str) -> str:
    if path.endswith(".json"):
        return "application/json"
    if path.endswith((".md", ".txt", ".gitattributes")):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


class TestHub:
    """A Hub-like server on loopback. Start it with `start()` (background thread) or as a
    context manager; point clients at `url`. `faults` and `stats` work while it runs."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        catalogue: Catalogue | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        page_size: int = LIST_PAGE_SIZE,
        tree_page_size: int = TREE_PAGE_SIZE,
        gate_metadata: bool = False,
        latency_ms: float = 0,
        connection_rate: int = 0,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the test hub only binds to loopback, not {host!r}")
        self.catalogue = catalogue if catalogue is not None else Catalogue.default()
        self.accepted_tokens: set[str] = set(tokens)
        self.page_size = page_size
        self.tree_page_size = tree_page_size
        self.gate_metadata = gate_metadata
        self.faults = Faults()
        self.faults.set_latency(latency_ms)
        self.faults.limit_connection_rate(connection_rate)
        self.stats = RequestStats()
        self.stopping = threading.Event()
        self._server = _HubHTTPServer((host, port), self)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def environ(self) -> dict[str, str]:
        """Variables that point a child process's `huggingface_hub` (and DEVON) here."""
        return {"HF_ENDPOINT": self.url, "HF_HUB_DISABLE_TELEMETRY": "1"}

    @property
    def token(self) -> str:
        """A token this hub accepts (unlocks gated and private repos)."""
        return sorted(self.accepted_tokens)[0] if self.accepted_tokens else ""

    def start(self) -> TestHub:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"testhub:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until `stop()` is called from another (or KeyboardInterrupt)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        self.stopping.set()
        self.faults.release()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.close_open_sockets()
        self._server.server_close()

    def reset(self) -> None:
        """Clear faults (latency and connection rate included) and request stats."""
        self.faults.reset()
        self.stats.reset()

    def __enter__(self) -> TestHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def run_test_hub(
    catalogue: Catalogue | None = None,
    *,
    port: int = 0,
    tokens: Iterable[str] = (DEFAULT_TOKEN,),
    page_size: int = LIST_PAGE_SIZE,
    tree_page_size: int = TREE_PAGE_SIZE,
    gate_metadata: bool = False,
    latency_ms: float = 0,
    connection_rate: int = 0,
) -> Iterator[TestHub]:
    """Run a test hub on 127.0.0.1 (an ephemeral port by default) in a background thread."""
    hub = TestHub(
        catalogue,
        port=port,
        tokens=tokens,
        page_size=page_size,
        tree_page_size=tree_page_size,
        gate_metadata=gate_metadata,
        latency_ms=latency_ms,
        connection_rate=connection_rate,
    )
    with hub:
        yield hub
