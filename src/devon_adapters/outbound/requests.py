"""A GET to a source, following its redirects only where the `RedirectRule` allows (checked
before each hop is sent; httpx2 drops the `Authorization` header when a hop changes host),
and read within `AnswerLimits` when it is not a file."""

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import httpx2

from devon_adapters.outbound.answers import AnswerLimits, Cutter, read_capped
from devon_adapters.outbound.redirects import MAX_REDIRECTS, RedirectRefused, RedirectRule
from devon_core.stopping import CallStop

ERROR_BODY_BYTES = 64 * 1024
"""What is read of an error answer's body (it only goes into a message)."""

Params = Sequence[tuple[str, str]] | None

# Headers that describe the body as it came over the wire, not the decoded copy kept.
_WIRE_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


@contextmanager
def open_answer(
    session: httpx2.Client,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: httpx2.Timeout,
    rule: RedirectRule,
    params: Params = None,
    stop: CallStop | None = None,
) -> Iterator[httpx2.Response]:
    """The streamed answer to a GET of `url` after its redirects; its connection is cut when
    `stop` is set. Used for files, whose bytes the downloader bounds by their listed size."""
    cutter = Cutter(None, stop, 0.0)
    try:
        with _following(session, url, headers, timeout, rule, params, cutter) as response:
            try:
                yield response
            finally:
                cutter.finish()  # before the connection goes back to the pool
    finally:
        cutter.finish()
    cutter.check()


def read_answer(
    session: httpx2.Client,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: httpx2.Timeout,
    rule: RedirectRule,
    limits: AnswerLimits,
    params: Params = None,
    stop: CallStop | None = None,
) -> httpx2.Response:
    """The whole answer to a GET of `url` (after its redirects), read within `limits` and
    cut when `stop` is set: a response whose body is loaded. An error answer's body is
    read up to ERROR_BODY_BYTES only."""
    cutter = Cutter(time.monotonic() + limits.timeout_s, stop, limits.timeout_s)
    try:
        with _following(session, url, headers, timeout, rule, params, cutter) as response:
            if response.status_code >= 400:
                answer = error_copy(response)
            else:
                answer = _loaded(response, read_capped(response, limits.max_bytes, cutter))
            cutter.finish()  # before the connection goes back to the pool
            return answer
    finally:
        cutter.finish()


def error_copy(response: httpx2.Response) -> httpx2.Response:
    """An error answer with (at most ERROR_BODY_BYTES of) its body loaded, for the error
    classes that read it."""
    kept = bytearray()
    try:
        for chunk in response.iter_bytes():
            kept += chunk[: ERROR_BODY_BYTES - len(kept)]
            if len(kept) >= ERROR_BODY_BYTES:
                break
    except httpx2.HTTPError:
        pass  # the status says enough
    return _loaded(response, bytes(kept))


def _loaded(response: httpx2.Response, body: bytes) -> httpx2.Response:
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
    return httpx2.Response(
        response.status_code, headers=headers, content=body, request=response.request
    )


@contextmanager
def _following(
    session: httpx2.Client,
    url: str,
    headers: Mapping[str, str],
    timeout: httpx2.Timeout,
    rule: RedirectRule,
    params: Params,
    cutter: Cutter,
) -> Iterator[httpx2.Response]:
    request = session.build_request(
        "GET",
        url,
        headers=dict(headers),
        params=list(params) if params is not None else None,
        timeout=timeout,
        extensions={"trace": cutter.trace},
    )
    for _ in range(MAX_REDIRECTS + 1):
        cutter.check()
        with cutter.sending():
            response = session.send(request, stream=True, follow_redirects=False)
        try:
            cutter.watch(response)
            following = response.next_request if response.has_redirect_location else None
            if following is None:
                yield response
                return
            rule.check(following.url)
        finally:
            response.close()
        request = following
    raise RedirectRefused(f"it redirected more than {MAX_REDIRECTS} times")
