"""The endpoints: each parses its input, calls one `Devon` method off the event loop, and
returns the wire form of the result. No rule of DEVON lives here."""

import inspect
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from litestar import HttpMethod, Response, delete, get, post, route
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter

from devon_adapters.version import devon_version
from devon_core import Devon, ModelList
from devon_core.identifiers import DEFAULT_SOURCE, validate_model_id
from devon_core.results import (
    DEFAULT_SEARCH_LIMIT,
    MAX_SEARCH_LIMIT,
    MIN_SEARCH_LIMIT,
    SearchFilters,
)
from devon_http import wire
from devon_http.body import StrictBody
from devon_http.errors import DESCRIPTION_OF

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


async def in_thread(call: Callable[[], R], limiter: CapacityLimiter | None = None) -> R:
    """Run a blocking `Devon` call in a worker thread. If the request is cancelled (the client
    went away) the call still runs to its end, so the vault is never left mid-change.

    Results that grow with the vault (list, clean, export) are converted to their wire form
    in the thread too (~30 ms at 10,000 models), not on the event loop."""
    return await anyio.to_thread.run_sync(call, limiter=limiter, abandon_on_cancel=False)


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


@get("/health", tags=["service"], summary="Health check (never needs the API key)")
async def health() -> wire.Health:
    return wire.Health(status="ok", version=devon_version())


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
    # `query` itself is a name Litestar reserves for the whole query string.
    text: Annotated[str | None, QueryParameter(name="query", description="Free-text query")] = None,
    source: Annotated[str, QueryParameter(description="Source plugin to query")] = DEFAULT_SOURCE,
    *,
    limit: Annotated[
        int,
        QueryParameter(ge=MIN_SEARCH_LIMIT, le=MAX_SEARCH_LIMIT, description="Maximum results"),
    ] = DEFAULT_SEARCH_LIMIT,
    **filter_texts: str | None,
) -> wire.SearchResponse:
    filters = SearchFilters.parse(**filter_texts)
    call = partial(devon.search, text, source=source, filters=filters, limit=limit)
    return wire.to_wire(await in_thread(call), wire.SearchResponse)


@get("/models", tags=["vault"], summary="List the models in the vault", responses=errors(400))
async def list_models(
    devon: NamedDependency[Devon],
    state: State,
    source: Annotated[str | None, QueryParameter(description="Only this source's models")] = None,
) -> wire.ModelList:
    def listed() -> wire.ModelList:
        return wire.to_wire(ModelList(tuple(devon.list(source=source))), wire.ModelList)

    return await in_thread(listed, whole_vault_limiter(state))


ModelIdPath = Annotated[
    str, PathParameter(description="Model identifier, e.g. Qwen/Qwen2.5-7B-Instruct")
]
SourcePath = Annotated[str, PathParameter(description="Source name, e.g. huggingface")]


def _model_id(path_value: str) -> str:
    # A `path` parameter arrives with its leading slash. The path takes a plain id only
    # (the library and the CLI also read references such as `<source>/<owner>/<name>`).
    return validate_model_id(path_value.removeprefix("/"))


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
    summary="A model's vault entry and remote description (marks it used)",
    responses=errors(400, 403, 404, 502),
)
async def model_info(
    devon: NamedDependency[Devon], source: SourcePath, model_id: ModelIdPath
) -> wire.ModelInfo:
    info = await in_thread(partial(devon.info, _model_id(model_id), source=source))
    return wire.to_wire(info, wire.ModelInfo)


@delete(
    MODEL_PATH,
    status_code=200,
    tags=["vault"],
    summary="Remove a model from the vault",
    responses=errors(400, 404),
)
async def remove_model(
    devon: NamedDependency[Devon], source: SourcePath, model_id: ModelIdPath
) -> wire.Deleted:
    removed = await in_thread(partial(devon.remove, _model_id(model_id), source=source))
    return wire.to_wire(removed, wire.Deleted)


@get("/status", tags=["vault"], summary="Storage statistics", responses=errors())
async def status(devon: NamedDependency[Devon]) -> wire.Status:
    return wire.to_wire(await in_thread(devon.status), wire.Status)


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
        "is moved to local/<name> and registered under the built-in `local` source. "
        "Metadata is inferred from the files (`metadata.inferred` is true). Folders with no "
        "model file or still being written are listed in `skipped`."
    ),
    responses=errors(400, 413, 422),
)
async def scan(
    devon: NamedDependency[Devon], state: State, data: JSONBody[wire.ScanRequest] = DEFAULT_SCAN
) -> wire.Scanned:
    def scanned() -> wire.Scanned:
        return wire.to_wire(devon.scan(reconcile=data.reconcile), wire.Scanned)

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
    devon: NamedDependency[Devon], state: State, data: JSONBody[wire.ExportRequest] = DEFAULT_EXPORT
) -> wire.Export:
    def exported() -> wire.Export:
        return wire.export_to_wire(devon.export(data.format))

    return await in_thread(exported, whole_vault_limiter(state))


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
    clean,
    scan,
    export,
    adopt,
]
"""Everything under /api/v1 but the downloads (`devon_http.job_routes`)."""
