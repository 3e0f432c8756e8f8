"""Hostile input that once reached the log or a traceback: control characters in the path,
JSON nested without end, and Authorization headers that are almost `Bearer <key>`."""

import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import TestClient

from devon_http import create_app
from devon_http.body import json_depth
from devon_http.guard import LOOPBACK_HOSTS, HttpSecurity
from devon_http.request_log import EscapingFormatter, RequestLog, escape_control
from tests.support.http_support import QWEN, fake_devon

JSON = {"Content-Type": "application/json"}
KEY = "s3cret-key"


def test_control_characters_in_a_path_cannot_forge_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        caplog.at_level(logging.INFO, logger="devon.http"),
        TestClient(create_app(fake_devon(), request_log=RequestLog())) as client,
    ):
        client.get("/api/v1/models/x%0d%0a2026-01-01 INFO devon.http: GET /forged 200%1b[31m")
    [line] = [r.getMessage() for r in caplog.records if "forged" in r.getMessage()]
    assert "\n" not in line
    assert "\r" not in line
    assert "\x1b" not in line
    assert "\\x0a" in line
    assert "\\x1b" in line


def test_a_request_the_guard_refuses_is_logged_with_its_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(
        fake_devon(), security=HttpSecurity(allowed_hosts=LOOPBACK_HOSTS), request_log=RequestLog()
    )
    with caplog.at_level(logging.INFO, logger="devon.http"), TestClient(app) as client:
        client.get("/api/v1/status", headers={"Host": "rebound.example"})
    [line] = [r.getMessage() for r in caplog.records if r.name == "devon.http"]
    assert line.startswith("GET /api/v1/status 400 ")


def test_the_log_format_escapes_control_characters_in_any_message() -> None:
    record = logging.LogRecord("devon", logging.WARNING, __file__, 1, "a\nb\x1b[2J", (), None)
    assert EscapingFormatter("%(message)s").format(record) == "a\\x0ab\\x1b[2J"


def test_escaping_keeps_printable_text_and_applies_once() -> None:
    assert escape_control("Qwen/Qwen2.5-7B ü") == "Qwen/Qwen2.5-7B ü"
    once = escape_control("a\nb")
    assert escape_control(once) == once == "a\\x0ab"


@pytest.mark.parametrize("body", [b"[" * 1000 + b"]" * 1000, b'{"a":' * 1000 + b"1" + b"}" * 1000])
def test_deeply_nested_json_is_400_not_a_server_error(
    body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(fake_devon())) as client:
        response = client.post("/api/v1/clean", content=body, headers=JSON)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _depth_byte_by_byte(body: bytes) -> int:
    """How deeply `body` nests, read as the JSON grammar reads it, one byte at a time: the
    specification `json_depth` counts by faster means."""
    deepest = depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            escaped, in_string = (False, True) if escaped else (byte == 0x5C, byte != 0x22)
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


@given(st.lists(st.sampled_from(list(b'"\\[]{}a\n')), max_size=40).map(bytes))
def test_json_depth_skips_strings_escapes_and_an_open_string_as_the_grammar_does(
    body: bytes,
) -> None:
    assert json_depth(body) == _depth_byte_by_byte(body)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = b'{"model_id": "' + b"[" * 100 + b'"}'
    with TestClient(create_app(fake_devon())) as client:
        response = client.post("/api/v1/downloads", content=body, headers=JSON)
    assert response.status_code == 400
    assert "Invalid model id" in response.json()["detail"]


@pytest.fixture
def keyed() -> Any:
    with TestClient(create_app(fake_devon(local=[QWEN]), api_key=KEY)) as client:
        yield client


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {KEY}\u00a0",
        f"Bearer\u2003{KEY}",
        f"Bearer\t{KEY}",
        f"Bearer {KEY}\u200b",
        f"Bearer {KEY} extra",
    ],
)
def test_a_bearer_header_that_is_not_exactly_rfc_6750_is_401(
    keyed: Any, authorization: str
) -> None:
    response = keyed.get("/api/v1/status", headers={"Authorization": authorization.encode()})
    assert response.status_code == 401


@pytest.mark.parametrize("authorization", [f"Bearer {KEY}", f"bearer {KEY}", f"BEARER  {KEY}"])
def test_rfc_6750_forms_of_the_right_key_are_let_through(keyed: Any, authorization: str) -> None:
    assert keyed.get("/api/v1/status", headers={"Authorization": authorization}).status_code == 200
