"""Validation of model ids and source names, before any path or URL is built from them."""

import re
from urllib.parse import urlsplit

from devon_core.errors import InvalidInput

MAX_PART_LENGTH = 96
DEFAULT_SOURCE = "huggingface"
LOCAL_SOURCE = "local"
"""The built-in source of models placed in the vault by hand (`devon scan`): no plugin
provides it, it downloads nothing, and its models are listed, removed and cleaned like any."""

_PART = re.compile(r"[A-Za-z0-9_.-]+")
_SOURCE = re.compile(r"[a-z0-9_-]{1,64}")
_HUB_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})
_NOT_MODELS = frozenset({"datasets", "spaces", "collections", "papers", "docs", "blog"})
_URL_VIEWS = frozenset({"tree", "blob", "resolve", "commits", "discussions"})


def validate_source_name(name: str) -> str:
    """Return `name` if it is a valid source name (lowercase letters, digits, `-`, `_`)."""
    if not isinstance(name, str) or not _SOURCE.fullmatch(name):
        raise InvalidInput(
            f"Invalid source name {name!r}: use lowercase letters, digits, '-' and '_'"
        )
    return name


def validate_model_id(model_id: str) -> str:
    """Return `model_id` if it follows the Hugging Face repo id rules, else raise InvalidInput.

    Valid: `owner/name` or a bare legacy `name`; each part made of letters, digits,
    `-`, `_`, `.`; no `..` or `--`; no leading or trailing `-` or `.`; at most 96
    characters per part.
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
        return "only letters, digits, '-', '_' and '.' are allowed"
    if ".." in part or "--" in part:
        return "'..' and '--' are not allowed"
    if part[0] in "-." or part[-1] in "-.":
        return "a part may not start or end with '-' or '.'"
    return None


def parse_model_reference(reference: str) -> str:
    """Turn what a user typed (an id, or a Hub URL to a model) into a validated model id.

    `https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/tree/main` gives `Qwen/Qwen2.5-7B-Instruct`.
    """
    text = reference.strip()
    if "://" in text:
        url = urlsplit(text)
        if url.hostname not in _HUB_HOSTS:
            raise InvalidInput(f"Not a Hugging Face model URL: {reference!r}")
        segments = [s for s in url.path.split("/") if s]
        if segments and segments[0] in _NOT_MODELS:
            raise InvalidInput(
                f"{reference!r} is a Hugging Face {segments[0].rstrip('s')}, not a model: "
                "only models can be downloaded"
            )
        if len(segments) >= 2 and segments[1] in _URL_VIEWS:
            segments = segments[:1]
        text = "/".join(segments[:2])
    return validate_model_id(text)
