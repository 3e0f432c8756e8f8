"""Validation of model ids and source names, before any path is built from them.

The core checks only what keeps the vault's paths safe; the grammar of a source's ids
(which of these the source accepts) is the source's own (ADR 0190)."""

import re

from devon_core.errors import InvalidInput

MAX_PART_LENGTH = 96
LOCAL_SOURCE = "local"
"""The built-in source of models placed in the vault by hand (`devon scan`): no plugin
provides it, it downloads nothing, and its models are listed, removed and cleaned like any."""

_PART = re.compile(r"[A-Za-z0-9_.:+@-]+")
_SOURCE = re.compile(r"[a-z0-9_-]{1,64}")


def validate_source_name(name: str) -> str:
    """Return `name` if it is a valid source name (lowercase letters, digits, `-`, `_`)."""
    if not isinstance(name, str) or not _SOURCE.fullmatch(name):
        raise InvalidInput(
            f"Invalid source name {name!r}: use lowercase letters, digits, '-' and '_'"
        )
    return name


def validate_model_id(model_id: str) -> str:
    """Return `model_id` if the vault can keep it, else raise InvalidInput (ADR 0190).

    This is path safety only, what every source's ids must satisfy: one or two parts
    (`name` or `owner/name`, the vault's two folder levels under a source), each of
    letters, digits and `-`, `_`, `.`, `:`, `+`, `@`, not starting with `.` or `-`, at
    most 96 characters. Each source checks its own grammar on top (the Hugging Face
    source refuses `..`, `--` and `:` in an id; an Ollama-style source accepts
    `llama3.1:8b`).
    """
    if not isinstance(model_id, str):
        raise InvalidInput(f"Invalid model id {model_id!r}: expected a string")
    parts = model_id.split("/")
    if not 1 <= len(parts) <= 2:
        raise InvalidInput(f"Invalid model id {model_id!r}: expected 'owner/name' or 'name'")
    for part in parts:
        problem = _part_problem(part)
        if problem:
            raise InvalidInput(f"Invalid model id {model_id!r}: {problem}")
    return model_id


def _part_problem(part: str) -> str | None:
    if not part:
        return "empty part"
    if len(part) > MAX_PART_LENGTH:
        return f"a part is longer than {MAX_PART_LENGTH} characters"
    if not _PART.fullmatch(part):
        return "only letters, digits, '-', '_', '.', ':', '+' and '@' are allowed"
    if part[0] in "-.":
        return "a part may not start with '-' or '.'"
    return None
