"""The fleet's endpoints on the central DEVON (docs/fleet.md, ADR 0240): hosts report with a
heartbeat and learn their placements in its answer; placements are put, listed and deleted."""

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

import anyio
import msgspec
from litestar import HttpMethod, Response, delete, get, post, put, route
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from devon_core import Devon
from devon_core.fleet import (
    HEARTBEAT_MAX_BYTES,
    HostState,
    PlacementRequest,
    PlacementState,
    host_data,
    host_report,
    placement_data,
)
from devon_http.body import StrictBody
from devon_http.document import HOST_NAME_PATTERN
from devon_http.routes import errors, in_thread

ENSURE_POLL_S = 0.5


ModelIdQuery = Annotated[str, QueryParameter(description="Model identifier, e.g. acme/shardy-7b")]
HostQuery = Annotated[str | None, QueryParameter(description="The asking host (left out)")]


class HeldModelBody(msgspec.Struct, kw_only=True):
    source: str
    model_id: str
    size_bytes: int
    last_used: datetime | None = None
    pinned: bool = False


State = Literal["pending", "copying", "ready", "failed", "evicted"]
HostName = Annotated[str, msgspec.Meta(min_length=1, max_length=63, pattern=HOST_NAME_PATTERN)]


class PlacementReportBody(msgspec.Struct, kw_only=True):
    source: str
    model_id: str
    state: State
    bytes_done: int = 0
    bytes_total: int | None = None
    reason: str | None = None
    landed: Annotated[
        list[str],
        msgspec.Meta(description="While copying: the files complete and verified so far"),
    ] = msgspec.field(default_factory=list)


class Heartbeat(msgspec.Struct, kw_only=True):
    url: Annotated[str | None, msgspec.Meta(description="Where peers reach the host")] = None
    capacity_bytes: int | None = None
    free_bytes: int | None = None
    interval_s: Annotated[
        float, msgspec.Meta(gt=0, le=86400, description="Seconds to the next heartbeat")
    ] = 10.0
    models: list[HeldModelBody] = msgspec.field(default_factory=list)
    placements: list[PlacementReportBody] = msgspec.field(default_factory=list)


class PlacementBody(msgspec.Struct, kw_only=True):
    model_id: Annotated[str, msgspec.Meta(description="Model identifier, e.g. acme/shardy-7b")]
    hosts: Annotated[
        list[HostName], msgspec.Meta(min_length=1, description="Host names (DEVON_HOST_NAME)")
    ]
    source: str | None = None
    pin: Annotated[bool, msgspec.Meta(description="Never evicted to make room")] = False


class EnsureBody(PlacementBody, kw_only=True):
    wait: Annotated[bool, msgspec.Meta(description="Answer once every host is ready or failed")] = (
        False
    )
    timeout_s: float = 3600.0


def _request(devon: Devon, body: PlacementBody) -> PlacementRequest:
    devon.source(body.source)  # an unknown source is refused before anything is kept
    source, reference = devon.resolve(body.model_id, source=body.source)
    return PlacementRequest(source, reference.model_id, tuple(body.hosts), body.pin)


def _model(devon: Devon, model_id: str, source: str | None) -> tuple[str, str]:
    """(source, plain id) of a model named in a query; InvalidInput for an id its source
    refuses."""
    chosen, reference = devon.resolve(model_id, source=source)
    return chosen, reference.model_id


def _listing(devon: Devon, source: str | None, model_id: str | None) -> dict[str, Any]:
    if source is not None:
        devon.source(source)  # an unknown source is a mistake, not an empty list
    if model_id is not None:
        source, model_id = _model(devon, model_id, source)
    found = devon.fleet_of().placements(source, model_id)
    rows = [placement_data(p) for p in found]
    return {"placements": rows, "count": len(rows)}


@post(
    "/hosts/{name:str}/heartbeat",
    status_code=200,
    dto=StrictBody[Heartbeat],
    return_dto=None,
    tags=["fleet"],
    summary="A fleet host's report; answers with its placements and the peers holding them",
    responses=errors(400, 413, 422),
    request_max_body_size=HEARTBEAT_MAX_BYTES,
)
async def heartbeat(
    devon: NamedDependency[Devon],
    name: Annotated[str, PathParameter(description="The host's DEVON_HOST_NAME")],
    data: JSONBody[Heartbeat],
) -> dict[str, Any]:
    def beat() -> dict[str, Any]:
        fields = msgspec.to_builtins(data)
        interval = fields.pop("interval_s")
        fleet = devon.fleet_of()
        placed = fleet.heartbeat(host_report({**fields, "name": name}), interval)
        rows = [
            {**placement_data(p), "go": go}
            for p, go in zip(placed, fleet.may_start(placed), strict=True)
        ]
        return {"placements": rows, "count": len(rows)}

    return await in_thread(beat)


@get("/hosts", tags=["fleet"], summary="The hosts that report to this DEVON", responses=errors(400))
async def list_hosts(devon: NamedDependency[Devon]) -> dict[str, Any]:
    def listed() -> dict[str, Any]:
        now = devon.clock.now()
        rows = [host_data(h, now) for h in devon.fleet_of().hosts()]
        return {"hosts": rows, "count": len(rows)}

    return await in_thread(listed)


@route("/placements", http_method=[HttpMethod.OPTIONS], include_in_schema=False)
async def placements_options() -> Response[None]:
    # Litestar would announce only the first handler's method.
    return Response(None, status_code=204, headers={"Allow": "DELETE, GET, OPTIONS, PUT"})


@get(
    "/placements",
    tags=["fleet"],
    summary="Placements, per model and host: pending, copying, ready, failed, evicted",
    responses=errors(400),
)
async def list_placements(
    devon: NamedDependency[Devon],
    source: Annotated[str | None, QueryParameter(description="Only this source")] = None,
    model_id: Annotated[str | None, QueryParameter(description="Only this model")] = None,
) -> dict[str, Any]:
    return await in_thread(partial(_listing, devon, source, model_id))


@put(
    "/placements",
    status_code=200,
    dto=StrictBody[PlacementBody],
    return_dto=None,
    tags=["fleet"],
    summary="Put a model on hosts (they pull it at their next heartbeat)",
    responses=errors(400, 413, 422),
)
async def put_placements(
    devon: NamedDependency[Devon], data: JSONBody[PlacementBody]
) -> dict[str, Any]:
    def placed() -> dict[str, Any]:
        rows = [placement_data(p) for p in devon.fleet_of().place(_request(devon, data))]
        return {"placements": rows, "count": len(rows)}

    return await in_thread(placed)


@delete(
    "/placements",
    status_code=200,
    tags=["fleet"],
    summary="Remove a model's placements (its hosts drop it unless pinned there)",
    responses=errors(400, 404),
)
async def delete_placements(
    devon: NamedDependency[Devon],
    model_id: ModelIdQuery,
    source: Annotated[str | None, QueryParameter(description="Its source")] = None,
    host: Annotated[list[str] | None, QueryParameter(description="Only these hosts")] = None,
) -> dict[str, Any]:
    def removed() -> dict[str, Any]:
        chosen, reference = devon.resolve(model_id, source=source)
        count = devon.fleet_of().unplace(chosen, reference.model_id, host or None)
        return {"removed": count}

    return await in_thread(removed)


@get(
    "/peers",
    tags=["fleet"],
    summary=(
        "The URLs of the online hosts that hold a model, those still copying it with the "
        "files they have landed, and whether the asking host takes the rest from here"
    ),
    responses=errors(400),
)
async def list_peers(
    devon: NamedDependency[Devon],
    model_id: ModelIdQuery,
    source: Annotated[str | None, QueryParameter(description="Its source")] = None,
    host: HostQuery = None,
) -> dict[str, Any]:
    def found() -> dict[str, Any]:
        chosen, reference = devon.resolve(model_id, source=source)
        seeds = devon.fleet_of().seeds(chosen, reference.model_id, host)
        return {
            "peers": list(seeds.whole),
            "landed": [{"url": url, "files": list(files)} for url, files in seeds.landed],
            "from_central": seeds.from_central,
        }

    return await in_thread(found)


def _online_hosts(devon: Devon) -> set[str]:
    now = devon.clock.now()
    return {h.name for h in devon.fleet_of().hosts() if h.state(now) is HostState.ONLINE}


def _settled(rows: Sequence[dict[str, Any]]) -> bool:
    done = {PlacementState.READY.value, PlacementState.FAILED.value, PlacementState.EVICTED.value}
    return all(row["state"] in done for row in rows)


@post(
    "/models/ensure",
    status_code=200,
    dto=StrictBody[EnsureBody],
    return_dto=None,
    tags=["fleet"],
    summary="Put a model on hosts; with wait, answer once each is ready or failed",
    responses=errors(400, 413, 422),
)
async def ensure_model(devon: NamedDependency[Devon], data: JSONBody[EnsureBody]) -> Response[Any]:
    request = await in_thread(partial(_request, devon, data))
    await in_thread(partial(devon.fleet_of().place, request))
    until = datetime.now().timestamp() + data.timeout_s
    listing = await in_thread(partial(_listing, devon, request.source, request.model_id))
    while data.wait and datetime.now().timestamp() < until:
        online = await in_thread(partial(_online_hosts, devon))
        mine = [r for r in listing["placements"] if r["host"] in request.hosts]
        if _settled([r for r in mine if r["host"] in online]):
            break  # a host that is not online cannot move: its placement is answered pending
        await anyio.sleep(ENSURE_POLL_S)
        listing = await in_thread(partial(_listing, devon, request.source, request.model_id))
    return Response(listing)


FLEET_ROUTES: list[Any] = [
    placements_options,
    heartbeat,
    list_hosts,
    list_placements,
    put_placements,
    delete_placements,
    ensure_model,
    list_peers,
]
"""The fleet's routes under /api/v1."""
