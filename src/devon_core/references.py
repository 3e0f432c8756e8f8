"""What a user may type to name a model, what it selects (ADR 0171), and how a typed text
is read into a source and a reference (`ReferenceResolver`, ADR 0172).

The generic forms are parsed here: `owner/name`, `name`, and `owner/name:Q4_K_M` (a
quantisation tag, any case). A source may know more forms (the Hugging Face source reads
Hub URLs to a repo or to one file); it offers them through `parse_reference`.
"""

from collections.abc import Callable, Collection, Mapping
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


class ReferenceResolver:
    """Reads what a user typed to name a model into (source, reference), given the source
    plugins by name (`sources`), the source a call naming none uses (`default_source`),
    the source names models may be listed under (`known_sources`: the plugins' and the
    built-in `local`) and the sources the vault holds models of (`vault_sources`, read only
    when a name is none of the known ones)."""

    def __init__(
        self,
        sources: Mapping[str, object],
        default_source: Callable[[], str],
        known_sources: Callable[[], Collection[str]],
        vault_sources: Callable[[], Collection[str]],
    ) -> None:
        self._sources = sources
        self._default_source = default_source
        self._known_sources = known_sources
        self._vault_sources = vault_sources

    def named(self, source: str | None) -> str:
        """`source`, or the default source when it is None."""
        return self._default_source() if source is None else source

    def resolve(self, text: str, source: str | None = None) -> tuple[str, ModelReference]:
        """The source and the reference a user typed, read by that source: an id,
        `owner/name:QUANT`, a URL the source knows, or an id as DEVON prints it,
        `<source>/<id>` (ADR 0172). A source that parses no references of its own gets the
        generic forms (`owner/name`, `name`, `owner/name:QUANT`)."""
        source, text = self._source_prefix(text, source)
        plugin = self._sources.get(source)
        if isinstance(plugin, ReferenceParser):
            return source, plugin.parse_reference(text)
        if isinstance(text, str) and "://" in text:
            raise InvalidInput(
                f"{text!r} is a URL, and source {source!r} reads none: give the model's id"
            )
        return source, parse_reference(text)

    def with_quant(
        self, model: str, source: str | None, quant: str | None
    ) -> tuple[str, ModelReference]:
        """`resolve`, with the quantisation `quant` (a `--quant` option) selected; InvalidInput
        when the reference already selects other files."""
        source, reference = self.resolve(model, source)
        if quant is None:
            return source, reference
        tag = parse_quant_tag(quant)
        if reference.files or reference.quantization not in (None, tag):
            raise InvalidInput(f"{model!r} already selects files: drop --quant {quant}")
        return source, attrs.evolve(reference, quantization=tag)

    def plain_id(self, text: str, source: str | None = None) -> str:
        """`text` if it is a plain id of `source` (no URL, quantisation or file), checked
        by the source's own grammar when it has one, else by the core's path safety;
        InvalidInput otherwise. Touches neither the vault nor the network."""
        name = self.named(source)
        validate_model_id(text)
        plugin = self._sources.get(name)
        if isinstance(plugin, ReferenceParser):
            reference = plugin.parse_reference(text)
            if reference.selects or reference.model_id != text:
                raise InvalidInput(f"Invalid model id {text!r}: expected a plain id")
        return text

    def is_source(self, name: str) -> bool:
        """A known source, or one the vault holds models of (read only for an unknown name)."""
        return name in self._known_sources() or name in self._vault_sources()

    def _source_prefix(self, text: str, source: str | None) -> tuple[str, str]:
        """`<source>/<id>` -> (`source`, `id`) when `source` is a known source (a plugin,
        or one the vault holds models of) and the rest is one of its ids: for a source
        that reads references, one it reads (unless the whole text is already a reference
        of the chosen source: `huggingface/gpt2` is a Hub id); for any other, `owner/name`.
        Anything else is left as it is, for the chosen source."""
        chosen = self.named(source)
        if not isinstance(text, str) or "://" in text:
            return chosen, text
        first, _, rest = text.strip().partition("/")
        if not rest or not self._may_name_a_source(first, rest):
            return chosen, text
        plugin = self._sources.get(first)
        if isinstance(plugin, ReferenceParser):
            if first == chosen and self._reads(chosen, text.strip()):
                return chosen, text  # an id of the chosen source (`huggingface/gpt2`)
            if not self._reads(first, rest):
                return chosen, text
        elif rest.count("/") != 1:
            return chosen, text
        if source not in (None, first):
            raise InvalidInput(f"{text!r} names source {first!r}, but --source is {source!r}")
        return first, rest

    def _reads(self, source: str, text: str) -> bool:
        """Whether `text` is a reference `source` accepts."""
        plugin = self._sources.get(source)
        try:
            if isinstance(plugin, ReferenceParser):
                plugin.parse_reference(text)
            else:
                parse_reference(text)
        except InvalidInput:
            return False
        return True

    def _may_name_a_source(self, first: str, rest: str) -> bool:
        """Whether `first/rest` may be a printed id `<source>/<id>`: `first` is a known
        source, or `rest` is `<owner>/<name>` and the vault holds models of a source
        `first` (the vault is read only then: a plain `owner/name` never reads it)."""
        if first in self._known_sources():
            return True
        return rest.count("/") == 1 and self.is_source(first)
