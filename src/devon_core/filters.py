"""Search filters: the `size` and `params` mini-languages, formats and include globs.

Each parser accepts what a user would type and raises InvalidInput with the accepted forms
otherwise. `str()` of a parsed filter is its canonical form and parses back to an equal filter.
"""

import enum
import fnmatch
import math
import re
from collections.abc import Iterable, Sequence

import attrs

from devon_core.errors import InvalidInput
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
