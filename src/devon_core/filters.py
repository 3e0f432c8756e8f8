"""Search filters: the `size` and `params` mini-languages, formats and include globs, and
`SearchFilters`, every filter of a search with how each is declared (`search_filter`), typed
and matched.

Each parser accepts what a user would type and raises InvalidInput with the accepted forms
otherwise. `str()` of a parsed filter is its canonical form and parses back to an equal filter.
"""

import enum
import fnmatch
import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from devon_core.commit_metadata import ModelDescription
from devon_core.errors import InvalidInput
from devon_core.models import RemoteModel
from devon_core.quantizations import Quantization, parse_quant_tag
from devon_core.suggestions import did_you_mean

PARAMS_TOLERANCE = 0.2
_EPSILON = 1e-9  # so that exactly 20% off still matches despite float rounding
MAX_PATTERNS = 64
MAX_PATTERN_LENGTH = 256


class Comparison(enum.Enum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    ABOUT = "~"

    def holds(self, value: float, bound: float) -> bool:
        match self:
            case Comparison.LT:
                return value < bound
            case Comparison.LE:
                return value <= bound
            case Comparison.GT:
                return value > bound
            case Comparison.GE:
                return value >= bound
            case Comparison.ABOUT:
                return abs(value - bound) <= PARAMS_TOLERANCE * bound + _EPSILON


_COMPARISON = re.compile(r"\s*(<=|>=|<|>|=)?\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*")

SIZE_UNITS: dict[str, int] = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
"""Units a user types for a size: powers of 1024 (ADR 0235), also written as their IEC names
(`kib`, `mib`, `gib`, `tib`), which is how DEVON prints sizes."""
SIZE_UNITS.update({f"{unit[0]}ib": factor for unit, factor in list(SIZE_UNITS.items())[1:]})
PARAMS_UNITS: dict[str, float] = {"k": 1e-6, "m": 1e-3, "b": 1.0, "t": 1e3}


def _split(text: str) -> tuple[str | None, float, str] | None:
    match = _COMPARISON.fullmatch(text.lower())
    if match is None:
        return None
    op, number, unit = match.groups()
    value = float(number)
    if not math.isfinite(value):
        return None
    return op, value, unit


def _format_number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def parse_byte_size(text: str) -> int:
    """A size a user typed (`500gb`, `1.5tb`, `4096`: bytes when no unit) as a byte count."""
    parts = _split(text) if isinstance(text, str) else None
    if parts is None or parts[0] is not None or parts[2] not in {"", *SIZE_UNITS}:
        raise InvalidInput(
            f"Invalid size {text!r}: use e.g. '500gb', '1.5tb', '750mb' "
            "(units b, kb, mb, gb, tb, in powers of 1024 as DEVON prints them: KiB, MiB, GiB, "
            "TiB; a bare number is bytes)"
        )
    _, value, unit = parts
    return round(value * SIZE_UNITS.get(unit, 1))


@attrs.frozen
class SizeFilter:
    """A bound on a model's total size in bytes, e.g. `<100gb`. A bare value means `<=`."""

    comparison: Comparison
    limit_bytes: int

    @classmethod
    def parse(cls, text: str) -> "SizeFilter":
        parts = _split(text)
        if parts is None or parts[2] not in SIZE_UNITS or parts[0] == "=":
            raise InvalidInput(
                f"Invalid size filter {text!r}: use e.g. '<100gb', '<=500mb', '>1tb', '>=2.5gb' "
                "(units b, kb, mb, gb, tb, in powers of 1024 as DEVON prints them: KiB, MiB, GiB, "
                "TiB)"
            )
        op, value, unit = parts
        comparison = Comparison(op) if op else Comparison.LE
        return cls(comparison, round(value * SIZE_UNITS[unit]))

    def matches(self, size_bytes: int) -> bool:
        return self.comparison.holds(size_bytes, self.limit_bytes)

    def __str__(self) -> str:
        return f"{self.comparison.value}{self.limit_bytes}b"


@attrs.frozen
class ParamsFilter:
    """A bound on the parameter count in billions: `7b` (within 20%), `500m`, `<=8b`, `>70b`."""

    comparison: Comparison
    billions: float

    @classmethod
    def parse(cls, text: str) -> "ParamsFilter":
        parts = _split(text)
        if parts is None or parts[2] not in PARAMS_UNITS or parts[1] == 0:
            raise InvalidInput(
                f"Invalid params filter {text!r}: use e.g. '7b', '500m', '<=8b', '>70b' "
                "(units k, m, b, t; a bare value matches within 20%)"
            )
        op, value, unit = parts
        comparison = Comparison(op) if op and op != "=" else Comparison.ABOUT
        return cls(comparison, value * PARAMS_UNITS[unit])

    def matches(self, billions: float) -> bool:
        return self.comparison.holds(billions, self.billions)

    def __str__(self) -> str:
        op = "" if self.comparison is Comparison.ABOUT else self.comparison.value
        return f"{op}{_format_number(self.billions)}b"


class ModelFormat(enum.StrEnum):
    GGUF = "gguf"
    SAFETENSORS = "safetensors"
    PYTORCH = "pytorch"
    ONNX = "onnx"

    @classmethod
    def parse(cls, text: str) -> "ModelFormat":
        try:
            return cls(text.strip().lower())
        except ValueError:
            accepted = ", ".join(f.value for f in cls)
            hint = did_you_mean(text, [f.value for f in cls])
            raise InvalidInput(f"Invalid format {text!r}{hint}: use one of {accepted}") from None


def validate_include_patterns(patterns: Iterable[str] | None) -> tuple[str, ...] | None:
    """Check include globs (`*Q4_K_M*`, `*.json`): non-empty, relative, no `..`, balanced `[]`."""
    if patterns is None:
        return None
    if isinstance(patterns, str):
        raise InvalidInput("include_patterns must be a list of glob strings, not one string")
    result = tuple(patterns)
    if not result:
        raise InvalidInput("include_patterns is empty: omit it to download every file")
    if len(result) > MAX_PATTERNS:
        raise InvalidInput(f"Too many include patterns: at most {MAX_PATTERNS}")
    for pattern in result:
        problem = _glob_problem(pattern)
        if problem:
            raise InvalidInput(f"Invalid include pattern {pattern!r}: {problem}")
    return result


def _glob_problem(pattern: object) -> str | None:
    if not isinstance(pattern, str) or not pattern.strip():
        return "expected a non-empty glob string"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"longer than {MAX_PATTERN_LENGTH} characters"
    if any(ord(c) < 32 for c in pattern):
        return "control characters are not allowed"
    if pattern.startswith("/") or "\\" in pattern:
        return "patterns are relative POSIX paths inside the repository"
    if ".." in pattern.split("/"):
        return "'..' is not allowed"
    if pattern.count("[") != pattern.count("]"):
        return "unbalanced '[' ']'"
    return None


def matches_any(path: str, patterns: Sequence[str] | None) -> bool:
    """True when `patterns` is None (no filter) or `path` matches one of the globs."""
    if patterns is None:
        return True
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


# -- search filters: how each is declared, typed and matched (ADR 0195) ------------------


@attrs.frozen
class HintValues:
    """Where the values of a filter come from, for a "did you mean" when a search with it
    finds nothing: what a model found on the source carries, and what a stored model's
    metadata records."""

    remote: Callable[[RemoteModel], Iterable[str]]
    stored: str
    """The key of `LocalModel.metadata` holding the values, as comma-separated text."""

    def stored_values(self, metadata: Mapping[str, object]) -> list[str]:
        value = metadata.get(self.stored)
        return [v for v in value.split(",") if v] if isinstance(value, str) else []


@attrs.frozen
class FilterDeclaration:
    """How one search filter is typed by a person: its name (the CLI's `--name`, the HTTP
    query parameter, the facade's keyword), its parser (text -> value, InvalidInput when the
    text is wrong) and how each delivery describes it."""

    name: str
    parse: Callable[[str], Any]
    metavar: str
    help: str
    """The CLI option's help."""
    description: str
    """The HTTP query parameter's description in the OpenAPI document."""
    hints: HintValues | None = None
    """Where values close to a typed one are found; None: the filter gets no hints."""


_DECLARATION = "devon_search_filter"


def search_filter(
    *,
    parse: Callable[[str], Any],
    metavar: str,
    help: str,
    description: str,
    hints: HintValues | None = None,
) -> Any:
    """A field of `SearchFilters`: None (no constraint) unless a user typed a value, which
    `parse` turns into the field's value. The CLI options, the HTTP query parameters and the
    facade's keywords are all made from these declarations (ADR 0195); a search that finds
    nothing suggests values close to the one typed for each filter declared with `hints`."""
    return attrs.field(
        default=None,
        metadata={
            _DECLARATION: {
                "parse": parse,
                "metavar": metavar,
                "help": help,
                "description": description,
                "hints": hints,
            }
        },
    )


def _text(text: str) -> str:
    return text


def _license_of(model: RemoteModel) -> list[str]:
    return [model.license] if model.license else []


def _quantizations_of(model: RemoteModel) -> list[str]:
    return [q.name for q in model.quantizations] + [
        v for v in (model.quantization or "").split(",") if v
    ]


_DESCRIBED = attrs.fields(ModelDescription)


@attrs.frozen
class SearchFilters:
    """Every filter of a search. None means "no constraint".

    A new filter is one field here (declared with `search_filter`) plus its part of the rule
    in `matches`: every delivery takes it from the declaration."""

    provider: str | None = search_filter(
        parse=_text,
        metavar="AUTHOR",
        help="Only models of this author or organisation.",
        description="Author or organization",
    )
    params: ParamsFilter | None = search_filter(
        parse=ParamsFilter.parse,
        metavar="N",
        help="Parameter count: '7b' (within 20%), '<=8b', '>70b'.",
        description="Parameter count: 7b, 500m, <=8b, >70b",
    )
    size: SizeFilter | None = search_filter(
        parse=SizeFilter.parse,
        metavar="BOUND",
        help="Total size: '<100gb', '<=500mb', '>1tb'.",
        description="Total size: <100gb, >=2.5gb (b, kb, mb, gb, tb)",
    )
    format: ModelFormat | None = search_filter(
        parse=ModelFormat.parse,
        metavar="FORMAT",
        help="gguf, safetensors, pytorch, onnx.",
        description="Model format: gguf, safetensors, pytorch, onnx",
    )
    task: str | None = search_filter(
        parse=_text,
        metavar="TAG",
        help="Pipeline tag, e.g. text-generation.",
        description="Pipeline tag: text-generation",
    )
    license: str | None = search_filter(
        parse=_text,
        metavar="ID",
        help="License id, e.g. apache-2.0.",
        description="License id: apache-2.0",
        hints=HintValues(remote=_license_of, stored=_DESCRIBED.license.name),
    )
    quant: str | None = search_filter(
        parse=parse_quant_tag,
        metavar="NAME",
        help="GGUF quantisation (any case), e.g. Q4_K_M.",
        description="GGUF quantisation: Q4_K_M (any case)",
        hints=HintValues(remote=_quantizations_of, stored=_DESCRIBED.quantization.name),
    )

    @classmethod
    def declarations(cls) -> tuple[FilterDeclaration, ...]:
        """Every filter, in the order the deliveries list them."""
        return _declarations()

    @classmethod
    def parse(cls, **texts: str | None) -> "SearchFilters":
        """Build filters from what a user typed, by filter name; blank strings count as
        absent. A name that is no filter is a TypeError, as for any unknown keyword."""
        declared = {d.name: d for d in _declarations()}
        values: dict[str, Any] = {}
        for name, text in texts.items():
            declaration = declared.get(name)
            if declaration is None:
                raise TypeError(
                    f"{name!r} is not a search filter: use one of {', '.join(declared)}"
                )
            stripped = _blank_to_none(text)
            if stripped is not None:
                values[name] = declaration.parse(stripped)
        return cls(**values)

    def matches(self, model: RemoteModel) -> bool:
        """The one rule deciding whether a fully described remote model passes every filter."""
        if self.provider and (model.author or "").lower() != self.provider.lower():
            return False
        if self.params and (
            model.parameter_count is None or not self.params.matches(model.parameter_count)
        ):
            return False
        if (self.size or self.quant) and not self._quantization_matches(model):
            return False
        if self.format and self.format.value not in model.format:
            return False
        if self.task and self.task.lower() not in {t.lower() for t in model.tags}:
            return False
        return not (self.license and (model.license or "").lower() != self.license.lower())

    def matching_quantizations(self, model: RemoteModel) -> tuple[Quantization, ...]:
        """The quantisations of a GGUF repo that pass `quant` and `size`: a repo matches
        `size` when one of its quantisations does, not by its total (docs/huggingface.md)."""
        return tuple(
            q
            for q in model.quantizations
            if (not self.quant or q.name == self.quant)
            and (not self.size or self.size.matches(q.size_bytes))
        )

    def _quantization_matches(self, model: RemoteModel) -> bool:
        if model.quantizations:
            return bool(self.matching_quantizations(model))
        # Not a repo of GGUF quantisations: the whole repo is the one choice.
        if self.quant and self.quant not in (model.quantization or "").upper().split(","):
            return False
        return not (self.size and not self.size.matches(model.total_size_bytes))


@functools.cache
def _declarations() -> tuple[FilterDeclaration, ...]:
    return tuple(
        FilterDeclaration(name=field.name, **field.metadata[_DECLARATION])
        for field in attrs.fields(SearchFilters)
        if _DECLARATION in field.metadata
    )


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None
