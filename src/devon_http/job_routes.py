"""The download endpoints: `POST /downloads` (waiting, the documented answer, or not) and the
job routes: list, read, a live event stream, cancel and restart (ADR 0112).

Every answer is read from the job store, never from this process's memory, so that any
server worker answers for any job."""

import json
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from types import TracebackType
from typing import Annotated, Any, TypeVar

import anyio
import msgspec
from litestar import HttpMethod, Request, Response, delete, get, post, route
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Stream

from devon_app.settings import DEFAULT_MAX_EVENT_STREAMS
from devon_core import Devon, DevonError, DownloadResult, Job, NotFound
from devon_core.jobs import MAX_PAGE, MIN_PAGE
from devon_http import wire
from devon_http.body import StrictBody
from devon_http.connections import server_stopping
from devon_http.errors import error_response
from devon_http.routes import errors, in_thread

API_PREFIX = "/api/v1"
POLL_FIRST_S = 0.02
POLL_MAX_S = 0.25
"""A waiting request and an event stream read the job this often (at most 4 times a second
once it runs a while; sooner at first, so that a quick download answers quickly)."""
KEEP_ALIVE_S = 15.0
DEFAULT_PAGE = 100
"""Jobs in one page of `GET /downloads` unless `limit` says otherwise."""
RETRY_AFTER_S = 5
"""What a 503 for a stopping server or too many event streams suggests waiting."""

R = TypeVar("R")

JobIdPath = Annotated[str, PathParameter(description="A download job's id")]


def _job_wire(job: Job) -> wire.Job:
    return wire.to_wire(job, wire.Job)


def _accepted(job: Job) -> Response[wire.Job]:
    return Response(
        _job_wire(job),
        status_code=202,
        headers={"Location": f"{API_PREFIX}/downloads/{job.id}"},
    )


async def _until_finished(devon: Devon, job: Job, scope: Any) -> Job | None:
    """The job once it has finished; None if the server begins to stop first."""
    pause = POLL_FIRST_S
    while not job.finished:
        if server_stopping(scope):
            return None
        await anyio.sleep(pause)
        pause = min(pause * 2, POLL_MAX_S)
        job = await in_thread(partial(devon.job, job.id))
    return job


def _stopping_answer(job: Job) -> Response[Any]:
    return error_response(
        503,
        f"The server is stopping: the download of {job.model_id} goes on as job {job.id} "
        f"when a server runs on this vault again (follow it at {API_PREFIX}/downloads/{job.id})",
        {"Retry-After": str(RETRY_AFTER_S)},
    )


@route("/downloads", http_method=[HttpMethod.OPTIONS], include_in_schema=False)
async def downloads_options() -> Response[None]:
    return Response(None, status_code=204, headers={"Allow": "GET, OPTIONS, POST"})


@post(
    "/downloads",
    status_code=200,
    dto=StrictBody[wire.DownloadRequest],
    return_dto=None,
    tags=["downloads"],
    summary="Download a model into the vault (waits by default: set long client timeouts; "
    '"wait": false answers 202 with the job at once)',
    responses={
        202: ResponseSpec(
            data_container=wire.Job,
            description='"wait": false: the download job (its URL in Location)',
            generate_examples=False,
        ),
        **errors(400, 403, 404, 409, 413, 422, 429, 500, 502, 503, 507),
    },
)
async def download(
    devon: NamedDependency[Devon],
    data: JSONBody[wire.DownloadRequest],
    request: Request[Any, Any, Any],
) -> Response[Any]:
    def call(method: Callable[..., R]) -> Callable[[], R]:
        return partial(
            method,
            data.model_id,
            source=data.source,
            force=data.force,
            include_patterns=data.include_patterns,
        )

    if data.wait:
        present = await in_thread(call(devon.already_present))
        if present is not None:
            return Response(wire.to_wire(DownloadResult.of(present), wire.Downloaded))
    job = await in_thread(call(devon.start_download))
    if not data.wait:
        return _accepted(job)
    finished = await _until_finished(devon, job, request.scope)
    if finished is None:
        return _stopping_answer(job)
    return Response(wire.to_wire(finished.outcome(), wire.Downloaded))


@get(
    "/downloads",
    tags=["downloads"],
    summary="Download jobs, newest first, a page at a time (finished ones kept: the last "
    "1,000, or 7 days)",
    responses=errors(400, 404),
)
async def list_jobs(
    devon: NamedDependency[Devon],
    status: Annotated[
        str | None,
        QueryParameter(
            description="Only jobs in this state: queued, downloading, completed, failed, cancelled"
        ),
    ] = None,
    limit: Annotated[
        int, QueryParameter(ge=MIN_PAGE, le=MAX_PAGE, description="Jobs in this page at most")
    ] = DEFAULT_PAGE,
    cursor: Annotated[
        str | None,
        QueryParameter(description="The `next` of the previous page: the jobs older than it"),
    ] = None,
) -> wire.JobList:
    def listed() -> wire.JobList:
        return wire.to_wire(devon.jobs(status=status, limit=limit, after=cursor), wire.JobList)

    return await in_thread(listed)


JOB_PATH = "/downloads/{job_id:str}"


@route(JOB_PATH, http_method=[HttpMethod.OPTIONS], include_in_schema=False)
async def job_options() -> Response[None]:
    # As for /models/...: Litestar would announce only the first handler's method.
    return Response(None, status_code=204, headers={"Allow": "DELETE, GET, OPTIONS"})


@get(JOB_PATH, tags=["downloads"], summary="A download job", responses=errors(400, 404))
async def get_job(devon: NamedDependency[Devon], job_id: JobIdPath) -> wire.Job:
    return _job_wire(await in_thread(partial(devon.job, job_id)))


@delete(
    JOB_PATH,
    status_code=200,
    tags=["downloads"],
    summary="Cancel a queued or downloading job (its partial files stay: asking again resumes)",
    responses=errors(400, 404, 409),
)
async def cancel_job(devon: NamedDependency[Devon], job_id: JobIdPath) -> wire.Job:
    return _job_wire(await in_thread(partial(devon.cancel, job_id)))


@post(
    f"{JOB_PATH}/restart",
    status_code=202,
    tags=["downloads"],
    summary="Start a failed or cancelled job again under a new id, resuming its partial files",
    responses=errors(400, 404, 409, 429),
)
async def restart_job(devon: NamedDependency[Devon], job_id: JobIdPath) -> Response[wire.Job]:
    return _accepted(await in_thread(partial(devon.restart, job_id)))


@get(
    f"{JOB_PATH}/events",
    tags=["downloads"],
    summary="Server-sent events: `progress` (the job) as it changes, then `end` (the job)",
    media_type="text/event-stream",
    responses={
        200: ResponseSpec(
            data_container=str,
            media_type="text/event-stream",
            description="`event: progress` / `event: end`, each with the job as `data`",
            generate_examples=False,
        ),
        **errors(400, 404, 503),
    },
)
async def job_events(
    devon: NamedDependency[Devon],
    job_id: JobIdPath,
    state: State,
    request: Request[Any, Any, Any],
) -> Response[Any]:
    slots = event_stream_slots(state)
    if slots.full:
        return error_response(
            503,
            f"Too many event streams are open on this server (at most {slots.limit}, "
            "DEVON_MAX_EVENT_STREAMS): poll the job instead, or try again shortly",
            {"Retry-After": str(RETRY_AFTER_S)},
        )
    job = await in_thread(partial(devon.job, job_id))  # 404 before the stream begins
    return Stream(
        slots.held(_events(devon, job, request.scope)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class EventStreamSlots:
    """The event streams open in this server process, at most `limit` (ADR 0206). Used on
    the event loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    @property
    def full(self) -> bool:
        return self.open >= self.limit

    def held(self, events: AsyncIterator[str]) -> AsyncIterator[str]:
        """`events`, holding one slot until they end, fail or are dropped."""
        return _Held(self, events)


class _Held:
    def __init__(self, slots: EventStreamSlots, events: AsyncIterator[str]) -> None:
        self._slots, self._events = slots, events
        self._holding = True
        slots.open += 1

    def __aiter__(self) -> "_Held":
        return self

    async def __anext__(self) -> str:
        try:
            return await self._events.__anext__()
        except BaseException:
            self._release()
            raise

    async def aclose(self) -> None:
        self._release()
        close = getattr(self._events, "aclose", None)
        if close is not None:
            await close()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:  # a stream dropped before it was read to the end
        self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self._slots.open -= 1


def event_stream_slots(state: State) -> EventStreamSlots:
    if "event_streams" not in state:  # an app made without create_app's limits
        state.event_streams = EventStreamSlots(DEFAULT_MAX_EVENT_STREAMS)
    slots: EventStreamSlots = state.event_streams
    return slots


def _message(event: str, job: Job) -> str:
    data = msgspec.json.encode(_job_wire(job)).decode()
    return f"event: {event}\ndata: {data}\n\n"


async def _events(devon: Devon, job: Job, scope: Any) -> AsyncIterator[str]:
    """`progress` as the job changes (a keep-alive when it does not), then `end`. The
    stream also ends when the job can no longer be read (`error`, with the reason) and,
    with no event, when the server begins to stop."""
    last: str | None = None
    last_sent = time.monotonic()
    pause = POLL_FIRST_S
    while not job.finished:
        message = _message("progress", job)
        if message != last:
            yield message
            last, last_sent = message, time.monotonic()
        elif time.monotonic() - last_sent >= KEEP_ALIVE_S:
            yield ": keep-alive\n\n" + message
            last_sent = time.monotonic()
        await anyio.sleep(pause)
        pause = min(pause * 2, POLL_MAX_S)
        if server_stopping(scope):
            return
        try:
            job = await in_thread(partial(devon.job, job.id))
        except NotFound:  # forgotten meanwhile (history pruned): nothing more to tell
            return
        except DevonError as error:  # the index cannot be read (its database is gone)
            yield f"event: error\ndata: {json.dumps({'detail': str(error)})}\n\n"
            return
    yield _message("end", job)


JOB_ROUTES: list[Any] = [
    downloads_options,
    download,
    list_jobs,
    job_options,
    get_job,
    cancel_job,
    restart_job,
    job_events,
]
