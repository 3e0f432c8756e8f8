"""What KITT (the benchmark runner that uses DEVON) does, reproduced from its behaviour: its
campaign runner falls back to the `devon` command when no DEVON URL is set, and its dashboard
shows DEVON's web page through its own reverse proxy at `/devon-app/` (docs/kitt.md)."""

from __future__ import annotations

import contextlib
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from devon_testhub import TestHub
from tests.support.browser import chromium, open_page, served_devon
from tests.support.cli_process import cli_env, run_piped
from tests.support.hf_helpers import TINY

WIDGET = "acme/Widget-8B-GGUF"


def test_download_with_yes_and_one_file_included_fetches_that_file(
    tmp_path: Path, test_hub: TestHub
) -> None:
    # KITT's campaign runner runs `devon download REPO -y --include FILE` and then looks for
    # FILE under <storage>/huggingface/REPO.
    vault = tmp_path / "vault"
    result = run_piped(
        cli_env(vault, test_hub.url),
        "download",
        WIDGET,
        "-y",
        "--include",
        "widget-8b.Q4_K_M.gguf",
    )
    assert result.code == 0, result
    model = vault / "huggingface" / WIDGET
    assert sorted(p.name for p in model.iterdir()) == ["widget-8b.Q4_K_M.gguf"]


# ---- KITT's dashboard proxy, as it behaves ----------------------------------------------

KITT_PREFIX = "/devon-app"
KITT_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


class _KittProxyHandler(BaseHTTPRequestHandler):
    """KITT's `/devon-app/` proxy: it sends DEVON only its own `Authorization` and the browser's
    `Content-Type`, reads each whole answer, keeps DEVON's header names as they arrived and
    looks them up by exact spelling, so it rewrites `window.__DEVON_BASE_URL__=""` only when
    DEVON spells the header `Content-Type` (uvicorn sends `content-type`), and passes DEVON's
    `Content-Length` on."""

    server: _KittProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        path, _, query = self.path.partition("?")
        if not path.startswith(f"{KITT_PREFIX}/"):
            self._reply(404, {}, b"")
            return
        target = f"{self.server.upstream}{path[len(KITT_PREFIX) :]}"
        if query:
            target += f"?{query}"
        headers = {"Authorization": f"Bearer {self.server.api_key}"}
        if self.headers.get("Content-Type"):
            headers["Content-Type"] = self.headers["Content-Type"]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length and self.command != "GET" else None
        self.server.requests.append(f"{self.command} {path[len(KITT_PREFIX) :]}")
        request = urllib.request.Request(  # noqa: S310 - http, to the served DEVON
            target, data=body, headers=headers, method=self.command
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                content, status, received = answer.read(), answer.status, dict(answer.headers)
        except urllib.error.HTTPError as error:
            content, status, received = error.read(), error.code, dict(error.headers)
        except OSError:
            self._reply(502, {}, b"")
            return
        out = {k: v for k, v in received.items() if k.lower() not in KITT_HOP_BY_HOP}
        for name in ("x-frame-options", "content-security-policy"):
            out.pop(name, None)
        out["Content-Security-Policy"] = "frame-ancestors 'self'"
        if "text/html" in received.get("Content-Type", ""):
            content = content.replace(
                b'window.__DEVON_BASE_URL__=""', b'window.__DEVON_BASE_URL__="/devon-app"'
            )
        self._reply(status, out, content)

    def _reply(self, status: int, headers: dict[str, str], content: bytes) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if not any(name.lower() == "content-length" for name in headers):
                self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)
        except OSError:  # the browser stopped waiting for an event stream
            self.close_connection = True

    do_GET = do_POST = do_DELETE = _forward


class _KittProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, api_key: str) -> None:
        super().__init__(("127.0.0.1", 0), _KittProxyHandler)
        self.upstream = upstream.rstrip("/")
        self.api_key = api_key
        self.requests: list[str] = []


@contextlib.contextmanager
def kitt_proxy(upstream: str, api_key: str) -> Iterator[_KittProxyServer]:
    server = _KittProxyServer(upstream, api_key)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_page_behind_kitts_proxy_calls_devon_under_the_proxy_prefix(
    test_hub: TestHub,
) -> None:
    key = "kitt-key"
    with (
        served_devon(test_hub, api_key=key) as devon,
        kitt_proxy(devon.url, key) as proxy,
        chromium() as browser,
    ):
        httpx.post(
            f"{devon.url}/api/v1/downloads",
            json={"model_id": TINY},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        ).raise_for_status()
        host, port = proxy.server_address[:2]
        page = open_page(browser, f"http://{host!s}:{port}{KITT_PREFIX}/#/models")
        expect(page.get_by_role("button", name=TINY, exact=True)).to_be_visible()
        assert "GET /api/v1/models" in proxy.requests
        assert page.script_errors == []  # type: ignore[attr-defined]
