"""`devon serve`'s HTTP protocol offers zero-copy sending (the `devon.sendfile` ASGI
extension), and what it sends is exactly the span asked for, on a connection that stays
usable for the next request."""

import os
from pathlib import Path
from typing import Any

import httpx

from devon_http.connections import LimitedProtocol
from devon_http.file_sending import SENDFILE, send_span
from devon_http.serve import running


def file_app(path: Path) -> Any:
    """An ASGI app answering every request with bytes 1000..(size-1000) of `path`, saying
    in a header whether the zero-copy extension was offered."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        offered = SENDFILE in (scope.get("extensions") or {})
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            start, end = 1000, size - 1000
            headers = [
                (b"content-length", str(end - start).encode()),
                (b"x-zero-copy", b"yes" if offered else b"no"),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send_span(scope, send, fd, start, end)
        finally:
            os.close(fd)

    return app


def test_devon_serves_protocol_sends_a_file_span_with_zero_copies(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "blob").write_bytes(data)

    with (
        running(file_app(tmp_path / "blob"), http=LimitedProtocol) as url,
        httpx.Client() as client,
    ):
        answers = [client.get(url) for _ in range(3)]  # one keep-alive connection

    assert [a.headers["x-zero-copy"] for a in answers] == ["yes"] * 3
    assert all(a.content == data[1000:-1000] for a in answers)


def test_without_the_extension_the_span_is_read_and_sent_in_pieces(tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)
    (tmp_path / "blob").write_bytes(data)

    with running(file_app(tmp_path / "blob")) as url:
        answer = httpx.get(url)

    assert answer.headers["x-zero-copy"] == "no"
    assert answer.content == data[1000:-1000]
