"""The OpenAPI document, completed with every constraint the server enforces (ADR 0104).

Litestar derives the document from the handlers' types; what types cannot say is added here,
once, to the generated document: the id and source patterns and lengths, the source names
this server knows, the filter grammars, bodies that may be left out, the answers of the
request guard (400 Host, 403 Origin, 415 media type), and links between operations.
"""

import copy
from collections.abc import Collection, Iterator
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin

from devon_core.filters import MAX_PATTERN_LENGTH, MAX_PATTERNS, SIZE_UNITS
from devon_core.identifiers import MAX_PART_LENGTH
from devon_core.jobs import JobStatus

_CHAR = r"[A-Za-z0-9_]"
_SEPARATORS = r"(?:\.(?:-\.)*-?|-(?:\.-)*\.?)"  # '.' and '-' alternating: no '..', no '--'
_PART = rf"{_CHAR}+(?:{_SEPARATORS}{_CHAR}+)*"
MODEL_ID_PATTERN = rf"^{_PART}(?:/{_PART})?$"
MODEL_ID_MAX_LENGTH = MAX_PART_LENGTH
MODEL_ID_DESCRIPTION = (
    "Model identifier, e.g. Qwen/Qwen2.5-7B-Instruct: `owner/name` or a bare `name`; "
    "letters, digits, `_`, `.`, `-`; no `..` or `--`; no part starting or ending with `.` "
    "or `-`. Documented up to 96 characters in all, which every valid id of that length "
    "meets; the server accepts up to 96 characters in each part."
)
"""The id rules of devon_core.identifiers. A regular expression with a look-ahead could
bound each part exactly, but generators (schemathesis, hypothesis) then filter out nearly
everything they make; the documented bound is the stricter one (ADR 0104)."""


_BLANK = r"^\s*$"
_NUMBER = r"[0-9]{1,300}(?:\.[0-9]{1,300})?"
_NONZERO = (
    r"(?:[0-9]{0,300}[1-9][0-9]{0,300}(?:\.[0-9]{1,300})?"
    r"|[0-9]{1,300}\.[0-9]{0,300}[1-9][0-9]{0,300})"
)


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


def _one_of_words(words: Collection[str]) -> str:
    return "(?:" + "|".join(_any_case(w) for w in sorted(words, key=len, reverse=True)) + ")"


PARAMS_PATTERN = (
    rf"{_BLANK}|^\s*(?:<=|>=|<|>|=)?\s*{_NONZERO}\s*{_one_of_words(['k', 'm', 'b', 't'])}\s*$"
)
SIZE_PATTERN = rf"{_BLANK}|^\s*(?:<=|>=|<|>)?\s*{_NUMBER}\s*{_one_of_words(SIZE_UNITS)}\s*$"
FORMAT_PATTERN = rf"{_BLANK}|^\s*{_one_of_words(['gguf', 'safetensors', 'pytorch', 'onnx'])}\s*$"
QUANT_PATTERN = rf"{_BLANK}|^\s*[A-Za-z0-9_]{{1,32}}\s*$"
"""A GGUF quantisation name (devon_core.quantizations.parse_quant_tag), any case."""
GLOB_PATTERN = (
    r"^(?!.*(?:^|/)\.\.(?:/|$))(?=.*\S)[^/\x00-\x1f\\\[\]]"
    r"[^\x00-\x1f\\\[\]]*(?:\[[^\x00-\x1f\\\[\]]*\][^\x00-\x1f\\\[\]]*)*$"
    r"|^(?!.*(?:^|/)\.\.(?:/|$))(?=.*\S)\[[^\x00-\x1f\\\[\]]*\][^\x00-\x1f\\\[\]]*"
    r"(?:\[[^\x00-\x1f\\\[\]]*\][^\x00-\x1f\\\[\]]*)*$"
)
"""A relative glob: not blank, no leading `/`, no backslash or control character, no `..`
segment, `[` `]` in pairs."""

GUARD_ANSWERS = {
    "400": "Malformed input, or a Host this server does not answer to (DEVON_ALLOWED_HOSTS)",
    "403": "A browser Origin not allowed (DEVON_CORS_ORIGINS), or a model the source refuses",
    "415": "A request body not sent as Content-Type: application/json",
}
OPTIONAL_BODIES = ("/api/v1/clean", "/api/v1/export", "/api/v1/scan", "/api/v1/adopt")
MODEL_PATH = "/api/v1/models/{source}/{model_id}"


def complete(document: dict[str, Any], sources: Collection[str]) -> dict[str, Any]:
    """A copy of Litestar's `document` stating every constraint the server enforces."""
    doc = copy.deepcopy(document)
    source_schema = {"type": "string", "enum": sorted(sources)}
    for path, method, operation in _operations(doc):
        for parameter in operation.get("parameters", []):
            _constrain_parameter(parameter, source_schema)
        if "requestBody" in operation and path in OPTIONAL_BODIES:
            operation["requestBody"]["required"] = False
        _add_guard_answers(path, method, operation)
    schemas = doc.get("components", {}).get("schemas", {})
    if "DownloadRequest" in schemas:
        _constrain_download(schemas["DownloadRequest"], source_schema)
    if "AdoptRequest" in schemas:
        _constrain_adopt(schemas["AdoptRequest"])
    for name in ("PlacementBody", "EnsureBody"):  # the fleet's (devon_http.fleet_routes)
        if name in schemas:
            _constrain_placement(schemas[name], source_schema)
    _link_download_to_its_model(doc)
    _describe_job_events(doc)
    return doc


JOB_EVENTS_PATH = "/api/v1/downloads/{job_id}/events"


def _describe_job_events(doc: dict[str, Any]) -> None:
    """Before Open API 3.2, the schema of `text/event-stream` describes each event: an
    `event` name and a `data` line holding the job as JSON."""
    operation = doc["paths"].get(JOB_EVENTS_PATH, {}).get("get")
    if not operation:
        return
    stream = operation["responses"].get("200", {}).get("content", {}).get("text/event-stream")
    if stream is not None:
        stream["schema"] = {
            "type": "object",
            "properties": {
                "event": {"type": "string", "enum": ["progress", "end"]},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "description": "The job, as GET /api/v1/downloads/{job_id} answers it",
                },
            },
            "required": ["event", "data"],
        }


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def _constrain_parameter(parameter: dict[str, Any], source_schema: dict[str, Any]) -> None:
    name, schema = parameter["name"], parameter.get("schema", {})
    if name == "source":
        default = schema.get("default")
        parameter["schema"] = copy.deepcopy(source_schema)
        if default is not None:
            parameter["schema"]["default"] = default
    elif name == "model_id" and parameter["in"] == "path":
        schema.update(pattern=MODEL_ID_PATTERN, maxLength=MODEL_ID_MAX_LENGTH, minLength=1)
        parameter["description"] = MODEL_ID_DESCRIPTION
        # An id may hold one '/': sent as is (`/models/huggingface/Qwen/Qwen2.5-7B`) or
        # encoded as %2F, both route to the same model.
        parameter["example"] = "Qwen/Qwen2.5-7B-Instruct"
    elif name == "model_id" and parameter["in"] == "query":
        optional = not parameter.get("required", False)
        parameter["schema"] = _model_id_schema()
        parameter["required"] = not optional
    elif name == "host" and parameter["in"] == "query":
        host = {"type": "string", "pattern": HOST_NAME_PATTERN, "maxLength": 63}
        array = parameter.get("schema", {}).get("oneOf", [{}])[0].get("type") == "array"
        parameter["schema"] = {"type": "array", "items": host} if array else host
    elif name == "status" and parameter["in"] == "query":
        parameter["schema"] = {"type": "string", "enum": [state.value for state in JobStatus]}
    elif name in ("params", "size", "format", "quant"):
        pattern = {
            "params": PARAMS_PATTERN,
            "size": SIZE_PATTERN,
            "format": FORMAT_PATTERN,
            "quant": QUANT_PATTERN,
        }
        _string_of(parameter, pattern[name])


def _string_of(parameter: dict[str, Any], pattern: str) -> None:
    """An optional string query parameter: `{"type": "string", "pattern": ...}` (Litestar
    writes `oneOf: [string, null]`, and a query parameter cannot be null anyway)."""
    parameter["schema"] = {"type": "string", "pattern": pattern}


def _add_guard_answers(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    error_schema = {"$ref": "#/components/schemas/ErrorBody"}
    codes = ["400", "403"] + (["415"] if "requestBody" in operation else [])
    for code in codes:
        answer = responses.setdefault(
            code, {"description": "", "content": {"application/json": {"schema": error_schema}}}
        )
        answer["description"] = GUARD_ANSWERS[code]


def _constrain_download(schema: dict[str, Any], source_schema: dict[str, Any]) -> None:
    properties = schema["properties"]
    properties["model_id"].update(
        pattern=MODEL_ID_PATTERN,
        maxLength=MODEL_ID_MAX_LENGTH,
        minLength=1,
        description=MODEL_ID_DESCRIPTION,
    )
    properties["source"] = {**copy.deepcopy(source_schema), "default": "huggingface"}
    for choice in properties["include_patterns"].get("oneOf", []):
        if choice.get("type") == "array":
            choice.update(minItems=1, maxItems=MAX_PATTERNS)
            choice["items"] = {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_PATTERN_LENGTH,
                "pattern": GLOB_PATTERN,
            }


HOST_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
"""A fleet host's name (`DEVON_HOST_NAME`): letters, digits, `.`, `_`, `-`."""


def _constrain_placement(schema: dict[str, Any], source_schema: dict[str, Any]) -> None:
    properties = schema["properties"]
    properties["model_id"].update(_model_id_schema())
    properties["source"] = {
        "oneOf": [copy.deepcopy(source_schema), {"type": "null"}],
        "default": "huggingface",
    }
    properties["hosts"]["items"] = {
        "type": "string",
        "minLength": 1,
        "maxLength": 63,
        "pattern": HOST_NAME_PATTERN,
    }


def _model_id_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": MODEL_ID_PATTERN,
        "minLength": 1,
        "maxLength": MODEL_ID_MAX_LENGTH,
        "description": MODEL_ID_DESCRIPTION,
    }


def _constrain_adopt(schema: dict[str, Any]) -> None:
    for choice in schema["properties"]["model_ids"].get("oneOf", []):
        if choice.get("type") == "array":
            choice["items"] = _model_id_schema()


def _link_download_to_its_model(doc: dict[str, Any]) -> None:
    """For stateful testing and readers: a download's answer names the model to read or
    remove next."""
    downloaded = doc["paths"].get("/api/v1/downloads", {}).get("post", {})
    model = doc["paths"].get(MODEL_PATH, {})
    if not downloaded or not model:
        return
    parameters = {"source": "$response.body#/source", "model_id": "$response.body#/model_id"}
    downloaded["responses"]["200"]["links"] = {
        f"{method.capitalize()}Model": {
            "operationId": model[method]["operationId"],
            "parameters": parameters,
        }
        for method in ("get", "delete")
        if method in model
    }


class _Completing:
    """Render plugins of the completed document, built once per app."""

    def _document(self, request: Request[Any, Any, Any], schema: dict[str, Any]) -> Any:
        state = request.app.state
        if "openapi_document" not in state:
            state.openapi_document = complete(schema, state.devon.source_names())
        return state.openapi_document


class JsonDocument(_Completing, JsonRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._document(request, openapi_schema))


class YamlDocument(_Completing, YamlRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._document(request, openapi_schema))
