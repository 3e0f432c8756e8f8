"""What a user may type to name a model, and what it selects (ADR 0171).

The generic forms are parsed here: `owner/name`, `name`, and `owner/name:Q4_K_M` (a
quantisation tag, any case). A source may know more forms (the Hugging Face source reads
Hub URLs to a repo or to one file); it offers them through `parse_reference`.
"""

from typing import Protocol, runtime_checkable

import attrs

from devon_core.errors import InvalidInput
from devon_core.identifiers import validate_model_id
from devon_core.quantizations import parse_quant_tag


@attrs.frozen
class ModelReference:
    """A model and, optionally, which of its files: one quantisation, or exact files (a
    Hub file URL), possibly at a named revision."""

    model_id: str
    quantization: str | None = None
    files: tuple[str, ...] = ()
    revision: str | None = None

    @property
    def selects(self) -> bool:
        """Whether the reference names part of the model rather than all of it."""
        return self.quantization is not None or bool(self.files)

    def __str__(self) -> str:
        if self.quantization:
            return f"{self.model_id}:{self.quantization}"
        return self.model_id


@runtime_checkable
class ReferenceParser(Protocol):
    """Implemented by a source that knows more reference forms than the generic ones."""

    def parse_reference(self, text: str) -> ModelReference: ...


def parse_reference(text: str) -> ModelReference:
    """`owner/name`, `name` or `owner/name:QUANT` as a reference; InvalidInput otherwise."""
    if not isinstance(text, str):
        raise InvalidInput(f"Invalid model id {text!r}: expected a string")
    stripped = text.strip()
    model_id, colon, tag = stripped.partition(":")
    if colon and "/" in tag:
        raise InvalidInput(
            f"Invalid model reference {text!r}: expected 'owner/name' or 'owner/name:QUANT' "
            "(e.g. acme/Widget-8B-GGUF:Q4_K_M)"
        )
    quantization = parse_quant_tag(tag) if colon else None
    return ModelReference(validate_model_id(model_id), quantization)
