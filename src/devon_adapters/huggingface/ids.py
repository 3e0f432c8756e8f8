"""The Hub's repo id rules, which the Hugging Face source applies on top of the core's
path safety (ADR 0190)."""

from devon_core.errors import InvalidInput
from devon_core.identifiers import validate_model_id


def validate_hub_id(model_id: str) -> str:
    """Return `model_id` if it is a Hub repo id, else raise InvalidInput.

    Valid: `owner/name` or a bare legacy `name`; each part made of letters, digits, `-`,
    `_`, `.`; no `..` or `--`; no leading or trailing `-` or `.`; at most 96 characters
    per part.
    """
    validate_model_id(model_id)
    for part in model_id.split("/"):
        problem = _hub_problem(part)
        if problem:
            raise InvalidInput(f"Invalid model id {model_id!r}: {problem}")
    return model_id


def _hub_problem(part: str) -> str | None:
    if any(c in part for c in ":+@"):
        return "only letters, digits, '-', '_' and '.' are allowed"
    if ".." in part or "--" in part:
        return "'..' and '--' are not allowed"
    if part[-1] in "-.":
        return "a part may not start or end with '-' or '.'"
    return None
