"""An answer that is not a file (a JSON page, a model record, an error's body), read whole
into memory: so it is read within a byte cap, before a deadline for the whole answer (not
per read), and its connection is cut the moment the caller's stop signal is set.

The deadline and the stop act on the socket itself (`shutdown`), so they end a read that
is blocked waiting for bytes, not only the loop between reads. A request learns its socket
when it writes to it (ADR 0280), so a kept-alive connection taken from the pool is known
before its answer's headers arrive, as a new one is.
"""

import contextlib
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import attrs
import httpx2

from devon_core.rules import format_bytes
from devon_core.stopping import CallStop

MIB = 1024 * 1024
DEFAULT_MAX_ANSWER_BYTES = 4 * MIB
DEFAULT_ANSWER_TIMEOUT_S = 60.0


class OutboundRefusal(Exception):
    """An answer or a redirect DEVON does not take; `str()` says why, to follow "because"
    or a colon in a sentence naming the server."""


class AnswerTooLarge(OutboundRefusal):
    """The answer went past the byte cap (reading stopped there)."""


class AnswerTooSlow(OutboundRefusal):
    """The whole answer did not arrive before its deadline."""


class CallStopped(OutboundRefusal):
    """Nobody waits for the answer any more (the caller's stop signal was set)."""


@attrs.frozen
class AnswerLimits:
    """The most bytes one answer that is not a file may have, and the seconds it has to
    arrive whole (from the request sent to the last byte)."""

    max_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    timeout_s: float = DEFAULT_ANSWER_TIMEOUT_S


class Cutter:
    """Cuts one request's connection, once: at `deadline` (a `time.monotonic()` reading),
    when `stop` is set, or when asked. The connection is known from the moment the request
    is written to it while `sending()` (ADR 0280), and already while it is made (`trace`,
    passed as httpx2's `trace` extension, for a TLS handshake that hangs)."""

    def __init__(self, deadline: float | None, stop: CallStop | None, timeout_s: float) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._done = False
        self.why: OutboundRefusal | None = None
        self._timer: threading.Timer | None = None
        if deadline is not None:
            too_slow = AnswerTooSlow(
                f"its whole answer took longer than {timeout_s:g} s "
                "(DEVON_SOURCE_ANSWER_TIMEOUT sets the limit)"
            )
            wait = max(0.0, deadline - time.monotonic())
            self._timer = threading.Timer(wait, self.cut, [too_slow])
            self._timer.daemon = True
            self._timer.start()
        self._forget: Callable[[], None] = lambda: None
        if stop is not None:
            self._forget = stop.when_set(lambda: self.cut(CallStopped("the request was stopped")))

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        """While the block runs (httpx2's `send`), a connection the request is written to
        becomes this request's, a kept-alive one from the pool included."""
        token = _SENDING.set(self)
        try:
            yield
        except (httpx2.HTTPError, OSError):
            self.check()  # a request the cut ended fails with whatever the socket said
            raise
        finally:
            _SENDING.reset(token)

    def trace(self, name: str, info: dict[str, Any]) -> None:
        if name.endswith((".connect_tcp.complete", ".start_tls.complete")):
            self.know(_followed(info.get("return_value")))

    def watch(self, response: httpx2.Response) -> None:
        """The connection of `response` (one made by a request without this module's trace
        is known from now on when it is written to)."""
        self.know(_followed(response.extensions.get("network_stream")))

    def know(self, sock: socket.socket | None) -> None:
        """`sock` is this request's connection (cut at once if the cutter already cut)."""
        if sock is None:
            return
        with self._lock:
            self._socket = sock
            cut = self.why is not None and not self._done
        if cut:
            _shut(sock)

    def cut(self, why: OutboundRefusal) -> None:
        with self._lock:
            if self._done or self.why is not None:
                return
            self.why = why
            sock = self._socket
        if sock is not None:
            _shut(sock)

    def check(self) -> None:
        """Raise why the connection was cut, if it was."""
        if self.why is not None:
            raise self.why

    def finish(self) -> None:
        """The request is over: no cut from now on."""
        with self._lock:
            self._done = True
        if self._timer is not None:
            self._timer.cancel()
        self._forget()


_SENDING: ContextVar[Cutter | None] = ContextVar("devon_sending", default=None)
"""The cutter of the request being sent in this context (`Cutter.sending`)."""

_FOLLOWED = "_devon_tells_cutters"


def _followed(stream: Any) -> socket.socket | None:
    """The socket under `stream` (an httpcore network stream), which from now on tells the
    cutter of every request sent on it (`_SENDING`) when that request is written: the
    connection pool hands a kept-alive connection to a new request without any event that
    names it, and the request's first write is the moment it is that request's."""
    extra = getattr(stream, "get_extra_info", None)
    sock = extra("socket") if extra is not None else None
    if not isinstance(sock, socket.socket):
        return None
    if getattr(stream, _FOLLOWED, False):
        return sock
    try:
        original = weakref.WeakMethod(stream.write)  # no cycle through the stream
    except TypeError:  # its write is not a method (someone else's wrapper)
        return sock

    def written(buffer: bytes, timeout: float | None = None) -> None:
        cutter = _SENDING.get()
        if cutter is not None:
            cutter.know(sock)
        write = original()
        if write is not None:  # always: it is called through the stream
            write(buffer, timeout)

    with contextlib.suppress(AttributeError):  # a stream that takes no attributes
        stream.write = written
        setattr(stream, _FOLLOWED, True)
    return sock


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for a TLS socket: its own would drop the TLS state
    # under the thread that is reading, which then fails with an unrelated error.
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


LARGE_ANSWER_BYTES = 1 * MIB
_LARGE_DECODES = threading.Semaphore(1)
BYTES_PER_JSON_VALUE = 16
"""An answer may hold one JSON value per this many bytes of the cap (the Hub's answers
take 20 or more per value): each decoded value costs 50 to 70 bytes of memory."""


def refuse_dense_json(body: bytes, max_bytes: int) -> None:
    """Raise AnswerTooLarge when `body` holds more JSON values than one per
    BYTES_PER_JSON_VALUE bytes of `max_bytes` (counted without decoding: every value but
    the first follows a `,`, or opens with `[` or `{`)."""
    most = max_bytes // BYTES_PER_JSON_VALUE
    if body.count(b",") + body.count(b"[") + body.count(b"{") > most:
        raise AnswerTooLarge(
            f"its answer held more than {most} JSON values (one per "
            f"{BYTES_PER_JSON_VALUE} bytes of DEVON_MAX_SOURCE_ANSWER)"
        )


@contextlib.contextmanager
def decoding(size: int) -> Iterator[None]:
    """Hold the block that turns an answer of `size` bytes into objects: one answer above
    LARGE_ANSWER_BYTES at a time in the process. Decoded JSON takes up to ~25 times its
    bytes (`[{},{},...]`), so several large answers decoded at once could take gigabytes."""
    if size <= LARGE_ANSWER_BYTES:
        yield
        return
    with _LARGE_DECODES:
        yield


def read_capped(response: httpx2.Response, max_bytes: int, cutter: Cutter) -> bytes:
    """The whole (decoded) body of `response`; AnswerTooLarge past `max_bytes` (nothing more
    is read), or why `cutter` cut the connection."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise AnswerTooLarge(
                    f"its answer was larger than {format_bytes(max_bytes)}, and was cut there "
                    "(DEVON_MAX_SOURCE_ANSWER sets the limit)"
                )
            chunks.append(chunk)
            cutter.check()
    except (httpx2.HTTPError, OSError):
        cutter.check()  # a read the cut ended fails with whatever the socket said
        raise
    cutter.check()  # a cut can also look like the end of a body without a length
    return b"".join(chunks)
