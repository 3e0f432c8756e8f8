"""Calls that wait on a source stop when nobody waits for their answer (ADR 0201).

Every call a route runs in a worker thread (`in_thread`) runs under a `CallStop` that is
set when the request is cancelled (the server shutting down past its grace period): the
source then cuts its connections at once, and the thread ends instead of reading on.
`while_client_waits` also sets it when the client disconnects (the ASGI `http.disconnect`
message), for routes without a request body (it reads `receive`).
"""

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from litestar import Request
from litestar.exceptions import ServiceUnavailableException

from devon_core.stopping import CallStop, stopping_on

R = TypeVar("R")

SHUTTING_DOWN = "The server is shutting down and stopped this request; ask again once it is back"


async def run_stoppable(
    call: Callable[[], R], signal: CallStop, limiter: CapacityLimiter | None = None
) -> R:
    """`call()` in a worker thread under `signal`, which is set if this wait is cancelled
    (the thread is then left to end on its own, which the signal makes prompt)."""
    try:
        with stopping_on(signal):  # the signal travels into the thread with the context
            return await anyio.to_thread.run_sync(call, limiter=limiter, abandon_on_cancel=False)
    except asyncio.CancelledError:
        signal.set()
        # uvicorn cancels what still runs once its shutdown grace is over: answer that in
        # the contract's form rather than leave it a plain-text 500.
        raise ServiceUnavailableException(SHUTTING_DOWN) from None
    except BaseException:
        signal.set()
        raise


async def while_client_waits(request: Request[Any, Any, Any], call: Callable[[], R]) -> R:
    """`call()` in a worker thread, stopped when the client of `request` goes away."""
    signal = CallStop()

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        signal.set()

    watcher = asyncio.ensure_future(watch())
    try:
        return await run_stoppable(call, signal)
    finally:
        watcher.cancel()
