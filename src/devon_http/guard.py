"""The request guard: what every request must get past before it reaches a route, and the
headers every answer carries (docs/security.md; ADR 0100).

In this order, for every HTTP request (unknown routes included):

1. `Host` must be one of the allowed host names (DNS rebinding: a page whose name was made to
   resolve to 127.0.0.1 sends its own name as `Host`). 400 otherwise.
2. A request carrying an `Origin` must come from the server's own origin or one listed in
   `DEVON_CORS_ORIGINS` (cross-site writes: a page on another site posting a form or a
   `no-cors` fetch). 403 otherwise; so is a write without `Origin` that the browser marks
   `Sec-Fetch-Site: cross-site`. Listed origins get CORS answers, preflights included.
   Clients that are not browsers (curl, KITT's proxy) send no `Origin` and are not affected.
3. A request with a body must say `Content-Type: application/json`: a browser can send a
   cross-site body without a preflight only as `text/plain`, form or multipart. 415 otherwise,
   except for the requests `reads_no_body` names (the Hub's paths, which never read a body:
   their writes are refused as read-only, whatever the body's type).

Every answer gets `X-Content-Type-Options: nosniff`, a `Referrer-Policy`, and a
`Content-Security-Policy` unless the handler set its own (the web page does); framing is
denied unless `DEVON_FRAME_ANCESTORS` names who may frame DEVON. Given a `RequestLog`, the
guard hands it every request, refused ones included, when it is done (ADR 0131).
"""

import json
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from time import perf_counter
from typing import Any

import attrs
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

from devon_http.request_log import RequestLog

LOOPBACK_HOSTS: frozenset[str] = frozenset({"localhost", "127.0.0.1", "::1"})
"""The names a server bound to loopback answers to by default."""

ANY = "*"
"""In `allowed_hosts` or `cors_origins`: every host, every origin."""

JSON_MEDIA_TYPE = "application/json"
CORS_METHODS = "GET, POST, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type"
CORS_MAX_AGE_S = 600
API_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'"


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().lower().rstrip("/") for v in values if v.strip())


def _optional_names(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else _names(values)


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class HttpSecurity:
    """Who may talk to the server and how answers are framed.

    `allowed_hosts`: host names (no port) the `Host` header may carry; None accepts any (what
    `create_app` does unless told, so that an app mounted by a library user behaves as any
    ASGI app; `devon serve` always passes a list). `cors_origins`: origins besides the
    server's own allowed to call it from a browser (`https://kitt.lan:3000`, or `*`).
    `frame_ancestors`: origins allowed to frame DEVON's pages; none denies framing."""

    allowed_hosts: frozenset[str] | None = attrs.field(default=None, converter=_optional_names)
    cors_origins: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    frame_ancestors: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    def allows_host(self, host: str) -> bool:
        if self.allowed_hosts is None or ANY in self.allowed_hosts:
            return True
        return host in self.allowed_hosts

    def allows_origin(self, origin: str) -> bool:
        return ANY in self.cors_origins or origin in self.cors_origins

    @property
    def content_security_policy(self) -> str:
        return f"{API_CSP}; {frame_ancestors_directive(self.frame_ancestors)}"


def frame_ancestors_directive(origins: Iterable[str]) -> str:
    """The CSP `frame-ancestors` directive for DEVON_FRAME_ANCESTORS: `'none'` when empty.
    For pages that set their own CSP (the web page), so framing follows the one setting."""
    listed = " ".join("'self'" if o in ("self", "'self'") else o for o in origins if o)
    return f"frame-ancestors {listed or chr(39) + 'none' + chr(39)}"


def split_host(host_header: str) -> str:
    """The host name of a `Host` header value, lowercased, without port or IPv6 brackets."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name, _, port = value.rpartition(":")
    return name if name and port.isdigit() else value


DEFAULT_PORTS = {"http": "80", "https": "443"}


def _normal_origin(scheme: str, host_header: str) -> str:
    """`scheme://host[:port]` as a browser writes it in `Origin` (default port left out)."""
    host = host_header.strip().lower()
    default = DEFAULT_PORTS.get(scheme)
    if default and host.endswith(f":{default}"):
        host = host[: -len(default) - 1]
    return f"{scheme}://{host}"


class RequestGuard:
    """ASGI middleware around the whole app: applies `HttpSecurity` (see the module doc), and
    hands every request, refused or answered, to `log` when it is done. The log is taken
    here because the guard already sees each answer's start: a wrapper of the log's own
    around every request was about 7,000 of its 17,000 instructions (ADR 0131)."""

    def __init__(
        self,
        app: ASGIApp,
        security: HttpSecurity,
        log: RequestLog | None = None,
        reads_no_body: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self.security = security
        self.log = log
        self.reads_no_body = reads_no_body
        self._answer = self._answer_headers()
        """Made once: every answer carries them (never changed; each answer copies them)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        log = self.log
        started = 0.0 if log is None else perf_counter()
        status: int | str = "-"
        added = self._answer
        cors: list[tuple[bytes, bytes]] = []

        # A plain function handing back `send`'s awaitable: no coroutine of its own per
        # message (it runs for every message of every request).
        def secured_send(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = _with_headers(message, added, cors)
            return send(message)

        try:
            early_answer = self._early_answer(scope, cors)
            if early_answer is None:
                await self.app(scope, receive, secured_send)
            else:
                await early_answer(secured_send)
        finally:
            if log is not None:
                log.record(scope, status, started)

    def _early_answer(
        self, scope: Scope, cors: list[tuple[bytes, bytes]]
    ) -> Callable[[Send], Awaitable[None]] | None:
        """The answer the guard gives itself (a refusal, a CORS preflight), or None when the
        request may go on to the app. Adds the CORS headers its answer needs to `cors`."""
        headers = _headers(scope)
        host_header = headers.get("host", "")
        host = split_host(host_header)
        if not self.security.allows_host(host):
            return partial(refuse, 400, _host_detail(host))
        origin = headers.get("origin", "").strip().rstrip("/").lower()
        if not origin and _cross_site_write(scope, headers):
            return partial(refuse, 403, CROSS_SITE_DETAIL)
        if origin:
            own = _normal_origin(str(scope.get("scheme", "http")), host_header)
            if origin != own:
                if not self.security.allows_origin(origin):
                    return partial(refuse, 403, _origin_detail(origin))
                cors += self._cors_headers(headers["origin"].strip())
                if scope.get("method") == "OPTIONS" and "access-control-request-method" in headers:
                    return _preflight
        if (
            _has_body(headers)
            and not _is_json(headers.get("content-type", ""))
            and (self.reads_no_body is None or not self.reads_no_body(scope))
        ):
            return partial(refuse, 415, _media_type_detail(headers.get("content-type")))
        return None

    def _cors_headers(self, origin: str) -> list[tuple[bytes, bytes]]:
        allowed = ANY if ANY in self.security.cors_origins else origin
        return [
            (b"access-control-allow-origin", allowed.encode("latin-1")),
            (b"access-control-expose-headers", b"ETag, WWW-Authenticate"),
            (b"vary", b"Origin"),
        ]

    def _answer_headers(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", self.security.content_security_policy.encode()),
        ]
        if not self.security.frame_ancestors:
            headers.append((b"x-frame-options", b"DENY"))
        return headers


def _with_headers(
    message: HTTPResponseStartEvent,
    added: list[tuple[bytes, bytes]],
    cors: list[tuple[bytes, bytes]],
) -> HTTPResponseStartEvent:
    """An answer's start message with the headers every answer carries and `cors`, each
    unless the handler set it (a `Vary` is added to the handler's)."""
    present = {name.lower() for name, _ in message.get("headers", [])}
    headers = list(message.get("headers", []))
    headers += [(n, v) for n, v in added if n not in present]
    headers += [(n, v) for n, v in cors if n not in present or n == b"vary"]
    return {**message, "headers": headers}


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lowercase name (the first of repeated ones)."""
    found: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _has_body(headers: dict[str, str]) -> bool:
    if "transfer-encoding" in headers:
        return True
    length = headers.get("content-length", "0").strip()
    return not length.isdigit() or int(length) > 0


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == JSON_MEDIA_TYPE


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CROSS_SITE_DETAIL = (
    "Cross-site request refused: the browser says it comes from another site "
    "(Sec-Fetch-Site: cross-site) without an Origin; pages may call this server only from "
    "an origin listed in DEVON_CORS_ORIGINS"
)


def _cross_site_write(scope: Scope, headers: dict[str, str]) -> bool:
    """A write a browser marks as sent from another site. Browsers send `Origin` with
    such writes, so one without it is a client hiding where it comes from: refused as a
    foreign origin would be."""
    return (
        scope.get("method") in WRITE_METHODS
        and headers.get("sec-fetch-site", "").strip().lower() == "cross-site"
    )


def _host_detail(host: str) -> str:
    return (
        f"Host {host!r} is not allowed: this server answers to the names in "
        "DEVON_ALLOWED_HOSTS (by default only localhost, 127.0.0.1 and ::1)"
    )


def _origin_detail(origin: str) -> str:
    return (
        f"Cross-origin request from {origin!r} refused: list that origin in "
        "DEVON_CORS_ORIGINS to let pages from it call this server"
    )


def _media_type_detail(content_type: str | None) -> str:
    got = f"got {content_type!r}" if content_type else "no Content-Type was sent"
    return f"Request bodies must be JSON sent with 'Content-Type: application/json' ({got})"


async def refuse(
    status: int, detail: str, send: Send, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
    start: Any = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    await send(start)
    end: Any = {"type": "http.response.body", "body": body}
    await send(end)


async def _preflight(send: Send) -> None:
    """The answer to a CORS preflight from an allowed origin (its CORS headers are the
    guard's, as on every answer to that origin)."""
    start: Any = {
        "type": "http.response.start",
        "status": 204,
        "headers": [
            (b"access-control-allow-methods", CORS_METHODS.encode()),
            (b"access-control-allow-headers", CORS_HEADERS.encode()),
            (b"access-control-max-age", str(CORS_MAX_AGE_S).encode()),
        ],
    }
    await send(start)
    end: Any = {"type": "http.response.body", "body": b""}
    await send(end)
