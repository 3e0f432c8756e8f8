"""Driving the web page in Debian's Chromium (playwright's Python package, never a
downloaded browser) against a DEVON served on a real socket over the test hub, and a reverse
proxy that behaves as KITT's does in front of it."""

import contextlib
import http.client
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from devon_app import Settings, build_devon
from devon_http import create_app
from devon_http.serve import running
from devon_testhub import TestHub

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WAIT_MS = 20_000
"""How long the page is given to show something before the test calls it a hang."""

expect.set_options(timeout=WAIT_MS)

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


@attrs.define
class Served:
    """A DEVON on a loopback port over the test hub, with its own vault."""

    url: str
    storage: Path
    api_key: str | None


@contextlib.contextmanager
def served_devon(
    hub: TestHub, *, api_key: str | None = None, port: int = 0, storage: Path | None = None
) -> Iterator[Served]:
    with contextlib.ExitStack() as stack:
        if storage is None:
            storage = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="devon-web-")))
        settings = Settings(storage_path=storage, hf_endpoint=hub.url, api_key=api_key)
        app = create_app(build_devon(settings), api_key=api_key)
        url = stack.enter_context(running(app, port=port))
        yield Served(url=url, storage=storage, api_key=api_key)


def open_page(browser: Browser, url: str, viewport: dict[str, int] | None = None) -> Page:
    """A new page (own context: own sessionStorage) that fails the test on a script error."""
    context = browser.new_context(viewport=viewport or LAPTOP)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.script_errors = errors  # type: ignore[attr-defined]
    page.goto(url)
    return page


# ---- a reverse proxy that behaves as KITT's ---------------------------------------------

PREFIX = "/devon-app"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
PROXY_TIMEOUT_S = 30.0
BASE_LITERAL = b'window.__DEVON_BASE_URL__=""'


class _ProxyHandler(BaseHTTPRequestHandler):
    """Forwards /devon-app/... to DEVON with the key added; reads the whole answer before
    sending any of it (so an event stream arrives only when it ends); rewrites the base URL
    literal in HTML; replaces the framing headers; gives up after 30 s."""

    server: "_ProxyServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        if not (self.path == PREFIX or self.path.startswith(f"{PREFIX}/")):
            self._reply(404, {"Content-Type": "text/plain"}, b"not under /devon-app/")
            return
        target = self.path[len(PREFIX) :] or "/"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        # As KITT's proxy does: of the browser's headers only Content-Type goes on (no
        # Origin, no cookies, no If-None-Match); the key is added here.
        headers = {"Content-Type": ct} if (ct := self.headers.get("Content-Type")) else {}
        if self.server.api_key:
            headers["Authorization"] = f"Bearer {self.server.api_key}"
        upstream = urlsplit(self.server.upstream)
        connection = http.client.HTTPConnection(
            upstream.hostname or "127.0.0.1", upstream.port, timeout=PROXY_TIMEOUT_S
        )
        self.server.requests.append(f"{self.command} {target}")
        try:
            connection.request(self.command, target, body=body, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
        except (OSError, http.client.HTTPException):
            self._reply(504, {"Content-Type": "text/plain"}, b"DEVON did not answer in time")
            return
        finally:
            connection.close()
        out = {
            name: value
            for name, value in answer.getheaders()
            if name.lower() not in HOP_BY_HOP
            and name.lower() not in ("x-frame-options", "content-security-policy")
        }
        out["Content-Security-Policy"] = "frame-ancestors 'self'"
        if answer.getheader("Content-Type", "").startswith("text/html"):
            content = content.replace(BASE_LITERAL, b'window.__DEVON_BASE_URL__="/devon-app"')
        self._reply(answer.status, out, content)

    def _reply(self, status: int, headers: dict[str, str], content: bytes) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)
        except OSError:  # the browser gave up waiting (an event stream it stopped reading)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, api_key: str | None) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.api_key = api_key
        self.requests: list[str] = []


@attrs.define
class Proxy:
    url: str
    """Where the page is: `<proxy>/devon-app/`."""
    requests: list[str]
    """`METHOD path` of each request forwarded to DEVON."""


@contextlib.contextmanager
def kitt_like_proxy(upstream: str, api_key: str | None) -> Iterator[Proxy]:
    server = _ProxyServer(upstream, api_key)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield Proxy(url=f"http://{host!s}:{port}{PREFIX}/", requests=server.requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
