"""The cross-site attacks of issue 19, made by a real browser: a page on another origin
auto-submits a `text/plain` form to an unkeyed DEVON on loopback, and fires `no-cors`
fetches at it. The browser must deliver them (so the test would see a hole) and DEVON
must refuse every one, leaving the vault as it was."""

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import MediaType, Response, get
from playwright.sync_api import Browser, sync_playwright

from devon_http import create_app
from devon_http.guard import LOOPBACK_HOSTS, HttpSecurity
from devon_http.serve import running
from tests.support.fakes import FakeSource
from tests.support.http_support import LLAMA, QWEN, WAIT_SECONDS, fake_devon, wait_until

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class Seen:
    """ASGI wrapper recording (method, path, status) of each request the server answered."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.answers: list[tuple[str, str, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def recording(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.answers.append((scope["method"], scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, recording)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def attacker_page() -> Iterator[tuple[dict[str, str], str]]:
    """A web server on another origin (`localhost`, another port) serving `pages[path]`."""
    pages: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield pages, f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_cross_site_form_and_no_cors_fetches_cannot_change_an_unkeyed_vault(
    browser: Browser, attacker_page: tuple[dict[str, str], str]
) -> None:
    pages, attacker = attacker_page
    source = FakeSource()
    devon = fake_devon(source, local=[QWEN])
    seen = Seen(create_app(devon, security=HttpSecurity(allowed_hosts=LOOPBACK_HOSTS)))
    with running(seen) as devon_url:
        pages["/attack"] = f"""<!doctype html>
<form id=f method=POST action="{devon_url}/api/v1/clean" enctype="text/plain">
<input name='{{"all":true,"x":"' value='"}}'></form>
<script>
fetch("{devon_url}/api/v1/downloads", {{method: "POST", mode: "no-cors",
  headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{model_id: "{LLAMA}"}})}});
fetch("{devon_url}/api/v1/models/huggingface/{QWEN}", {{method: "DELETE", mode: "no-cors"}})
  .catch(() => {{}});
document.getElementById("f").submit();
</script>"""
        page = browser.new_page()
        try:
            page.goto(f"{attacker}/attack")
            wait_until(
                lambda: (
                    {(m, p) for m, p, _ in seen.answers}
                    >= {("POST", "/api/v1/clean"), ("POST", "/api/v1/downloads")}
                ),
                "the browser to send the forged requests",
            )
            page.wait_for_load_state("load", timeout=WAIT_SECONDS * 1000)
        finally:
            page.close()
        forged = [status for _, path, status in seen.answers if path.startswith("/api/")]
        assert forged
        assert all(status == 403 for status in forged)
        assert [m.model_id for m in devon.list()] == [QWEN]
        assert source.downloads == []


@get("/page", media_type=MediaType.HTML)
async def own_page() -> Response[str]:
    """A page of DEVON's own origin (as the web page is), with its own CSP."""
    return Response("<p>DEVON</p>", headers={"Content-Security-Policy": "default-src 'self'"})


def test_a_page_of_the_servers_own_origin_can_call_it(browser: Browser) -> None:
    devon = fake_devon(local=[QWEN])
    app = create_app(devon, security=HttpSecurity(allowed_hosts=LOOPBACK_HOSTS))
    app.register(own_page)
    with running(app) as devon_url:
        page = browser.new_page()
        try:
            page.goto(f"{devon_url}/page")
            result = page.evaluate(
                """async () => {
                    const r = await fetch("/api/v1/clean", {method: "POST",
                        headers: {"Content-Type": "application/json"},
                        body: JSON.stringify({all: true, dry_run: true})});
                    return [r.status, (await r.json()).removed];
                }"""
            )
        finally:
            page.close()
    assert result == [200, 1]
