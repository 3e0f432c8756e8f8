"""The endpoints: each parses its input, calls one `Devon` method off the event loop, and
returns the wire form of the result. No rule of DEVON lives here."""

import inspect
import json
from collections.abc import Callable, Hashable
from functools import cache, partial
from typing import Annotated, Any, TypeVar

import attrs
from anyio import CapacityLimiter
from litestar import HttpMethod, MediaType, Request, Response, delete, get, post, route
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.serialization import encode_json
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)

from devon_app.version import devon_version
from devon_core import Devon, ModelInfo
from devon_core.results import (
    DEFAULT_SEARCH_LIMIT,
    MAX_SEARCH_LIMIT,
    MIN_SEARCH_LIMIT,
    SearchFilters,
)
from devon_core.serialization import held_wire
from devon_core.stopping import CallStop
from devon_http import wire
from devon_http.body import StrictBody
from devon_http.client_gone import run_stoppable, while_client_waits
from devon_http.errors import DESCRIPTION_OF
from devon_http.prepared import Prepared, PreparedCache, answer, matches

R = TypeVar("R")


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the error statuses an endpoint can answer, all `{"detail": str}`.
    401 is listed everywhere: it is what any /api route answers when a key is set."""
    return {
        code: ResponseSpec(
            data_container=wire.ErrorBody,
            description=DESCRIPTION_OF[code],
            generate_examples=False,
        )
        for code in sorted({*codes, 401})
    }


NOT_MODIFIED = ResponseSpec(
    data_container=None,
    description="The ETag sent in If-None-Match is still current: no body",
    generate_examples=False,
)


async def in_thread(call: Callable[[], R], limiter: CapacityLimiter | None = None) -> R:
    """Run a blocking `Devon` call in a worker thread. If the request is cancelled (the client
    went away) the call still runs to its end, so the vault is never left mid-change; only
    what it asks of a source is cut short (`client_gone`, ADR 0201).

    Results that grow with the vault (list, clean, export) are converted to their wire form
    in the thread too (~30 ms at 10,000 models), not on the event loop."""
    return await run_stoppable(call, CallStop(), limiter)


def whole_vault_limiter(state: State) -> CapacityLimiter:
    """One thread per process for the calls that read the whole vault (list, clean,
    export): they are CPU-bound under the interpreter lock, so running several at once
    gains nothing, and each more of them delays the event loop's turn."""
    if "whole_vault_limiter" not in state:
        state.whole_vault_limiter = CapacityLimiter(1)
    limiter: CapacityLimiter = state.whole_vault_limiter
    return limiter


ADOPTS_AT_ONCE = 2


def adopt_limiter(state: State) -> CapacityLimiter:
    """Adoptions (hashing and linking whole models) running at once per process: they have
    their own thread limiter, made on first use inside the event loop, so that they never
    take the threads the other endpoints need. (Downloads used to share it; they are jobs
    now, limited per vault by the job runner.)"""
    if "adopt_limiter" not in state:
        state.adopt_limiter = CapacityLimiter(ADOPTS_AT_ONCE)
    limiter: CapacityLimiter = state.adopt_limiter
    return limiter


def prepared_cache(state: State) -> PreparedCache:
    """The app's prepared answers (one cache per server process)."""
    if "prepared" not in state:
        state.prepared = PreparedCache()
    cached: PreparedCache = state.prepared
    return cached


async def prepared_answer(
    devon: Devon,
    state: State,
    key: Hashable,
    make: Callable[[], bytes],
    limiter: CapacityLimiter | None = None,
    *,
    also: Hashable = None,
) -> Prepared:
    """The answer `make` gives for `key`, made again only when the vault's change counter
    (or `also`, whatever else the answer says) moved since it was last made
    (`devon_http.prepared`). The counter is read first, on the event loop (one indexed
    SQLite read); `make` runs in a worker thread."""
    cache = prepared_cache(state)
    counter = (devon.change_counter(), also)
    prepared = cache.get(key, counter)
    if prepared is not None:
        return prepared

    def made() -> Prepared:
        # Requests that missed together wait for one another on the limiter: the later
        # ones find what the first made for the same counter.
        current = cache.get(key, counter)
        if current is None:
            current = Prepared(make())
            cache.put(key, counter, current)
        return current

    return await in_thread(made, limiter)


def reply(
    request: Request[Any, Any, Any], prepared: Prepared, *, tagged: bool = True
) -> Response[Any]:
    """The HTTP answer for `prepared`: 304, gzip or plain (`devon_http.prepared.answer`)."""
    headers = request.headers
    return answer(
        prepared,
        accept_encoding=headers.get("accept-encoding"),
        if_none_match=headers.get("if-none-match"),
        tagged=tagged,
    )


@cache
def health_body() -> bytes:
    """`/health`'s answer, encoded once per process."""
    return encode_json(wire.Health(status="ok", version=devon_version()))


HEALTH = "/health"


@get(HEALTH, tags=["service"], summary="Health check (never needs the API key)")
async def health() -> Response[wire.Health]:
    # The app answers GET /health before routing (`answer_health_first`); this route
    # documents it in OpenAPI and is what that answer is tested against.
    return Response[Any](content=health_body(), media_type=MediaType.JSON)


def answer_health_first(router: ASGIApp) -> ASGIApp:
    """`router`, with `GET /health` answered before routing: the same bytes and headers as
    the `health` route, at less than half its cost (load balancers and KITT poll it). Sits
    inside the request guard, so the Host check and the security headers still apply."""
    body = health_body()
    headers = [
        (b"content-type", MediaType.JSON.value.encode()),
        (b"content-length", str(len(body)).encode()),
    ]

    async def answering(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["path"] == HEALTH and scope["method"] == "GET":
            # New messages each time: whoever sends them on may change them.
            await send(
                HTTPResponseStartEvent(type="http.response.start", status=200, headers=headers)
            )
            await send(HTTPResponseBodyEvent(type="http.response.body", body=body, more_body=False))
            return
        await router(scope, receive, send)

    return answering


def with_search_filters(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Give `handler` one optional query parameter per declared search filter, in place of
    its `**filter_texts`, so that Litestar reads, validates and documents them (OpenAPI) from
    the declaration; the handler still receives them as `**filter_texts`."""
    signature = inspect.signature(handler)
    kept = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    filters = [
        inspect.Parameter(
            d.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[str | None, QueryParameter(description=d.description)],
        )
        for d in SearchFilters.declarations()
    ]
    first_keyword_only = next(
        (i for i, p in enumerate(kept) if p.kind is p.KEYWORD_ONLY), len(kept)
    )
    parameters = kept[:first_keyword_only] + filters + kept[first_keyword_only:]
    handler.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    handler.__annotations__ = {
        **{p.name: p.annotation for p in parameters},
        "return": signature.return_annotation,
    }
    return handler


@get(
    "/search",
    tags=["models"],
    summary="Search a remote model source",
    responses=errors(400, 403, 502),
)
@with_search_filters
async def search(
    devon: NamedDependency[Devon],
    request: Request[Any, Any, Any],
    # `query` itself is a name Litestar reserves for the whole query string.
    text: Annotated[str | None, QueryParameter(name="query", description="Free-text query")] = None,
    source: Annotated[
        str | None, QueryParameter(description="Source plugin to query (default: the server's)")
    ] = None,
    *,
    limit: Annotated[
        int,
        QueryParameter(ge=MIN_SEARCH_LIMIT, le=MAX_SEARCH_LIMIT, description="Maximum results"),
    ] = DEFAULT_SEARCH_LIMIT,
    **filter_texts: str | None,
) -> wire.SearchResponse:
    filters = SearchFilters.parse(**filter_texts)
    call = partial(devon.search, text, source=source, filters=filters, limit=limit)
    return wire.to_wire(await while_client_waits(request, call), wire.SearchResponse)


@get(
    "/models",
    tags=["vault"],
    summary="List the models in the vault (ETag, If-None-Match, gzip)",
    responses={**errors(400), 304: NOT_MODIFIED},
)
async def list_models(
    devon: NamedDependency[Devon],
    state: State,
    request: Request[Any, Any, Any],
    source: Annotated[str | None, QueryParameter(description="Only this source's models")] = None,
    quantizations: Annotated[
        bool,
        QueryParameter(
            description="Also give each model's GGUF quantisations with their sizes (added)"
        ),
    ] = False,
) -> Response[wire.ModelList]:
    def listed() -> bytes:
        if quantizations:  # sizes read from disk: not the kept listing (ADR 0237)
            models = [held_wire(m, devon.held_quantizations(m)) for m in devon.list(source=source)]
            return encode_json({"count": len(models), "models": models})
        # The same data as `to_wire(ModelList(devon.list()))`, read from the store's JSON
        # listing instead of an object per model: a third of the time (ADR 0132).
        count, text = devon.list_json(source=source)
        return encode_json({"count": count, "models": json.loads(text)})

    key = ("models", source, quantizations)
    return reply(
        request, await prepared_answer(devon, state, key, listed, whole_vault_limiter(state))
    )


ModelIdPath = Annotated[
    str, PathParameter(description="Model identifier, e.g. Qwen/Qwen2.5-7B-Instruct")
]
SourcePath = Annotated[str, PathParameter(description="Source name, e.g. huggingface")]


def _model_id(devon: Devon, source: str, path_value: str) -> str:
    # A `path` parameter arrives with its leading slash. The path takes a plain id only
    # (the library and the CLI also read references such as `<source>/<owner>/<name>`),
    # checked by the source's own id rules before any disk or network work.
    return devon.plain_id(path_value.removeprefix("/"), source=source)


MODEL_PATH = "/models/{source:str}/{model_id:path}"
MODEL_METHODS = "DELETE, GET, OPTIONS"


@route(MODEL_PATH, http_method=[HttpMethod.OPTIONS], include_in_schema=False)
async def model_options() -> Response[None]:
    # Litestar 2.25 builds the automatic OPTIONS answer from the first handler registered
    # on a path, so a path with GET and DELETE would announce only GET. Registered first.
    return Response(None, status_code=204, headers={"Allow": MODEL_METHODS})


@get(
    MODEL_PATH,
    tags=["vault"],
    summary="A model's vault entry and remote description (marks it used; ETag, gzip)",
    responses={**errors(400, 403, 404, 502), 304: NOT_MODIFIED},
)
async def model_info(
    devon: NamedDependency[Devon],
    request: Request[Any, Any, Any],
    source: SourcePath,
    model_id: ModelIdPath,
) -> Response[wire.ModelInfo]:
    if_none_match = request.headers.get("if-none-match")
    seen: list[Prepared] = []

    def encoded(info: ModelInfo) -> Prepared:
        return Prepared(encode_json(wire.to_wire(info, wire.ModelInfo)))

    def held(current: ModelInfo) -> bool:
        # The tag covers the remote part too: the source's description changes on its own.
        seen.append(encoded(current))
        return matches(if_none_match, seen[-1].etag, seen[-1].gzip_etag)

    def looked_up() -> Prepared:
        if not if_none_match:
            return encoded(devon.info(_model_id(devon, source, model_id), source=source))
        info = devon.info_unless_held(_model_id(devon, source, model_id), held, source=source)
        # None: the client's copy is current (answered 304) and the model was not marked used.
        return seen[-1] if info is None else encoded(info)

    return reply(request, await while_client_waits(request, looked_up))


@delete(
    MODEL_PATH,
    status_code=200,
    tags=["vault"],
    summary="Remove a model from the vault",
    responses=errors(400, 404, 500),
)
async def remove_model(
    devon: NamedDependency[Devon], source: SourcePath, model_id: ModelIdPath
) -> wire.Deleted:
    removed = await in_thread(
        partial(devon.remove, _model_id(devon, source, model_id), source=source)
    )
    return wire.to_wire(removed, wire.Deleted)


@get(
    "/status",
    tags=["vault"],
    summary="Storage statistics (ETag, If-None-Match)",
    responses={**errors(), 304: NOT_MODIFIED},
)
async def status(
    devon: NamedDependency[Devon], state: State, request: Request[Any, Any, Any]
) -> Response[wire.Status]:
    # Kept per change counter and staged bytes: `staging_bytes` moves with downloads in
    # progress, which the counter does not count (ADR 0130). Reading it walks staging only.
    staged, arrived = devon.staging_bytes(), devon.partial_bytes()

    def made() -> bytes:
        current = attrs.evolve(devon.status(), staging_bytes=staged, partial_bytes=arrived)
        return encode_json(wire.to_wire(current, wire.Status))

    return reply(
        request, await prepared_answer(devon, state, "status", made, also=(staged, arrived))
    )


@get(
    "/space",
    tags=["vault"],
    summary="Free disk space, space used and the quota (extension)",
    responses=errors(),
)
async def space(devon: NamedDependency[Devon]) -> wire.Space:
    return wire.to_wire(await in_thread(devon.space), wire.Space)


@get(
    "/sources",
    tags=["search"],
    summary="The source plugins, with where their models' web pages are (extension)",
    responses=errors(),
)
async def sources(devon: NamedDependency[Devon]) -> wire.SourceList:
    def listed() -> wire.SourceList:
        pages = devon.web_url_templates()
        names = devon.source_names()
        return wire.SourceList(
            sources=[wire.SourceEntry(name=n, web_url_template=pages.get(n)) for n in names]
        )

    return await in_thread(listed)


DEFAULT_CLEAN = wire.CleanRequest()
DEFAULT_EXPORT = wire.ExportRequest()
DEFAULT_SCAN = wire.ScanRequest()
DEFAULT_ADOPT = wire.AdoptRequest()
"""What an empty body means: every field of these bodies has a default."""


@post(
    "/clean",
    status_code=200,
    dto=StrictBody[wire.CleanRequest],
    return_dto=None,
    tags=["vault"],
    summary="Remove unused models, or all of them",
    responses=errors(400, 413, 422),
)
async def clean(
    devon: NamedDependency[Devon], state: State, data: JSONBody[wire.CleanRequest] = DEFAULT_CLEAN
) -> wire.Cleaned:
    def cleaned() -> wire.Cleaned:
        result = devon.clean(
            unused=data.unused,
            days=data.days,
            all=data.all,
            dry_run=data.dry_run,
            partial=data.partial,
            source=data.source,
        )
        return wire.to_wire(result, wire.Cleaned)

    return await in_thread(cleaned, whole_vault_limiter(state))


@post(
    "/scan",
    status_code=200,
    dto=StrictBody[wire.ScanRequest],
    return_dto=None,
    tags=["vault"],
    summary="Register model folders placed in the vault by hand",
    description=(
        "A folder under a source's folder is registered as that source's model; any other "
        "is registered where it is under the built-in `local` source (moved to "
        "local/<name> first only with `move`). Nothing resolving outside the vault is "
        "followed or written. Metadata is inferred from the files (`metadata.inferred` is "
        "true). Folders with no model file or still being written are listed in `skipped`. "
        "With `dry_run`, says what it would do and changes nothing."
    ),
    responses=errors(400, 413, 422),
)
async def scan(
    devon: NamedDependency[Devon], state: State, data: JSONBody[wire.ScanRequest] = DEFAULT_SCAN
) -> wire.Scanned:
    def scanned() -> wire.Scanned:
        result = devon.scan(reconcile=data.reconcile, move=data.move, dry_run=data.dry_run)
        return wire.to_wire(result, wire.Scanned)

    return await in_thread(scanned, whole_vault_limiter(state))


@post(
    "/export",
    status_code=200,
    dto=StrictBody[wire.ExportRequest],
    return_dto=None,
    tags=["vault"],
    summary="Export the model list (kitt: one path per model; json: full details)",
    responses=errors(400, 413, 422),
)
async def export(
    devon: NamedDependency[Devon],
    state: State,
    request: Request[Any, Any, Any],
    data: JSONBody[wire.ExportRequest] = DEFAULT_EXPORT,
) -> Response[wire.Export]:
    def exported() -> bytes:
        return encode_json(
            wire.export_to_wire(devon.export(data.format, gguf_files=data.gguf_files))
        )

    key = ("export", data.format, data.gguf_files)
    prepared = await prepared_answer(devon, state, key, exported, whole_vault_limiter(state))
    return reply(request, prepared, tagged=False)


@post(
    "/adopt",
    status_code=200,
    dto=StrictBody[wire.AdoptRequest],
    return_dto=None,
    tags=["vault"],
    summary="Adopt models already in the server's Hugging Face cache (no download)",
    responses=errors(400, 404, 413, 422),
)
async def adopt(
    devon: NamedDependency[Devon], state: State, data: JSONBody[wire.AdoptRequest] = DEFAULT_ADOPT
) -> wire.AdoptReport:
    def adopted() -> wire.AdoptReport:
        report = devon.adopt(data.model_ids, dry_run=data.dry_run)
        return wire.to_wire(report, wire.AdoptReport)

    return await in_thread(adopted, adopt_limiter(state))


API_ROUTES: list[Any] = [
    search,
    list_models,
    model_options,
    model_info,
    remove_model,
    status,
    space,
    clean,
    scan,
    export,
    adopt,
    sources,
]
"""Everything under /api/v1 but the downloads (`devon_http.job_routes`)."""
