"""Calls that wait on a source stop when nobody waits for their answer (ADR 0201).

`while_client_waits` runs the call in a worker thread under a `StopSignal` that is set when
the client disconnects (the ASGI `http.disconnect` message) or the request is cancelled
(the server shutting down past its grace period): the source then cuts its connections at
once instead of reading on for a client that is gone.
"""

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from litestar import Request

from devon_core.stopping import StopSignal, stopping_on

R = TypeVar("R")


async def while_client_waits(request: Request[Any, Any, Any], call: Callable[[], R]) -> R:
    """`call()` in a worker thread, stopped when the client of `request` goes away."""
    signal = StopSignal()

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        signal.set()

    done: list[R] = []
    failed: list[Exception] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch)
        try:
            with stopping_on(signal):
                # The signal travels into the thread with the context; a cancelled wait
                # leaves the thread to end on its own, which the signal makes prompt.
                done.append(await anyio.to_thread.run_sync(call, abandon_on_cancel=False))
        except Exception as error:  # raised outside the group, not wrapped in a group
            failed.append(error)
        except BaseException:
            signal.set()
            raise
        finally:
            tasks.cancel_scope.cancel()
    if failed:
        raise failed[0]
    return done[0]
