"""Strict decoding of JSON request bodies into the wire structs.

Litestar's own decoding is lax (it would take `"force": "true"` as a bool) and answers 400
for every failure. The contract wants strict JSON types, 400 for a body that is not JSON and
422 for JSON that fails validation, so handlers declare `dto=StrictBody[SomeRequest]`.
"""

import enum
import re
from itertools import accumulate
from typing import Any, Generic, Protocol, TypeVar, get_type_hints

import msgspec
from litestar.dto import MsgspecDTO
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from devon_core.errors import InvalidInput, InvalidRequest

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
"""Arrays and objects nested deeper than this are refused before decoding: no request body
of the API nests more than three levels."""

T = TypeVar("T", bound=msgspec.Struct)


class SchemaCreator(Protocol):
    """What `create_openapi_schema` uses of the schema creator Litestar hands it (whose class
    lives in a private module of Litestar's, so it is described here, not imported)."""

    def for_field_definition(self, field_definition: FieldDefinition) -> Schema | Reference: ...


class StrictBody(MsgspecDTO[T], Generic[T]):
    """A body DTO that decodes with msgspec in strict mode and raises core errors."""

    def decode_bytes(self, value: bytes) -> Any:
        return decode_body(value, self.model_type)

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        # Describe the struct itself (not a generated transfer model) so the document names it.
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))


def decode_body(body: bytes, model_type: type[T]) -> T:
    """The request struct in `body`: InvalidInput if it is not JSON, InvalidRequest if it is
    JSON that does not fit `model_type`. Unknown fields are ignored."""
    if json_depth(body) > MAX_JSON_DEPTH:
        raise InvalidInput(
            f"Request body is nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays "
            "and objects are accepted"
        )
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise InvalidInput(f"Request body is not valid JSON: {_readable(error)}") from None
    try:
        return msgspec.convert(_whole_numbers(data), type=model_type, strict=True)
    except msgspec.ValidationError as error:
        detail = _readable(error) + _accepted_values(error, model_type)
        raise InvalidRequest(f"Invalid request body: {detail}") from None
    except msgspec.DecodeError as error:
        raise InvalidInput(f"Request body is not valid JSON: {_readable(error)}") from None


def _whole_numbers(value: Any) -> Any:
    """`value` with floats that are whole numbers (`30.0`) as ints: JSON has one number
    type, and JSON Schema's `integer` accepts both spellings. Nothing else is coerced."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def _readable(error: msgspec.DecodeError) -> str:
    """msgspec says 'Expected `bool`, got `str` - at `$.force`'; say it without the markup."""
    message, _, where = str(error).partition(" - at ")
    message = message.replace("`", "")
    field = where.strip("`").removeprefix("$.").removeprefix("$")
    return f"{field}: {message}" if field else message


def _accepted_values(error: msgspec.ValidationError, model_type: type[Any]) -> str:
    """For a bad enum value, the values that would do: ` (use 'kitt' or 'json')`."""
    _, _, where = str(error).partition(" - at `$.")
    field_type = get_type_hints(model_type).get(where.rstrip("`"))
    if not (isinstance(field_type, type) and issubclass(field_type, enum.Enum)):
        return ""
    return " (use " + " or ".join(repr(member.value) for member in field_type) + ")"


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
"""A JSON string, escapes included."""
_ALL_BUT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ALL_BUT_QUOTES_AND_BRACKETS = bytes(b for b in range(256) if b not in b'"[]{}')
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in `body` (a bound, not a parse: brackets inside
    strings are skipped, and a string left open runs to the end; malformed input is left to
    the decoder).

    Counted in C, never a Python loop over the bytes (a fleet host's heartbeat of 100,000
    models is 15 MiB): the brackets outside strings are what is left once the strings are
    cut out, by splitting at the quotes when the body has no backslash (no escaped quote),
    else by a regex that knows escapes."""
    if b"\\" in body:
        outside = _STRING.sub(b"", body)
        unclosed = outside.find(b'"')
        brackets = outside[: unclosed if unclosed >= 0 else None].translate(None, _ALL_BUT_BRACKETS)
    else:  # every other piece between quotes is a string (the last, if left open, too)
        kept = body.translate(None, _ALL_BUT_QUOTES_AND_BRACKETS)
        brackets = b"".join(kept.split(b'"')[::2])
    return max(accumulate(map(_STEP.__getitem__, brackets), initial=0))
