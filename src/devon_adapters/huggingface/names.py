"""Facts read from names alone: parameter counts in model names, quantisation labels in file
names. Pure string work, no Hub objects."""

import re
from collections.abc import Iterable

# The format rule lives in model_files (also used by the vault, which must not import the Hub).
from devon_adapters.model_files.names import formats_of as formats_of
from devon_core.quantizations import quant_label, quant_order

_UNIT_BILLIONS = {"k": 1e-6, "m": 1e-3, "b": 1.0, "t": 1e3}

# A size token stands alone between separators: `0.5B` in `Qwen2.5-0.5B`, never the `2.5` of
# `Qwen2.5`, the `4b` of `4bit` or the `16` of `bf16`. `8x7B` is a mixture of experts.
_SIZE_TOKEN = re.compile(
    r"(?<![A-Za-z0-9.])(?:(?P<experts>[0-9]+)x)?(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<unit>[kmbt])"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)

# Quantisation schemes of non-GGUF repos, as they appear in names, tags and configs.
_SCHEME_WORDS = {
    "awq": "AWQ",
    "gptq": "GPTQ",
    "fp8": "FP8",
    "exl2": "EXL2",
    "int4": "INT4",
    "int8": "INT8",
    "w4a16": "W4A16",
    "w8a8": "W8A8",
    "bnb-4bit": "BNB-4BIT",
    "bnb-8bit": "BNB-8BIT",
    "4bit": "4BIT",
    "8bit": "8BIT",
}
_SCHEME_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])(" + "|".join(re.escape(w) for w in _SCHEME_WORDS) + r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)


def parameters_from_name(name: str) -> float | None:
    """Parameters in billions written in a model name: `Qwen2.5-0.5B` -> 0.5, `SmolLM-135M`
    -> 0.135, `Mixtral-8x7B` -> 56 (experts x size: an upper bound), `phi-3-mini` -> None.

    A billions (or trillions) token wins over a millions one, so that the context length of
    `Qwen2.5-7B-Instruct-1M` is not read as the size; otherwise the first token counts.
    """
    tokens = [_token_billions(match) for match in _SIZE_TOKEN.finditer(name)]
    large = [value for value, unit in tokens if unit in "bt"]
    small = [value for value, unit in tokens if unit in "km"]
    chosen = large or small
    if not chosen or chosen[0] <= 0:
        return None
    return chosen[0]


def _token_billions(match: re.Match[str]) -> tuple[float, str]:
    unit = match["unit"].lower()
    value = float(match["number"]) * _UNIT_BILLIONS[unit]
    if match["experts"]:
        value *= int(match["experts"])
    return round(value, 6), unit


def gguf_quantizations(paths: Iterable[str]) -> list[str]:
    """The distinct quantisation types of the `.gguf` files among `paths`, upper-cased, from
    fewest bits to most (`IQ2_XS`, `Q4_K_M`, `Q8_0`, `F16`): the core's rule (ADR 0170)."""
    found = {label for label in map(quant_label, paths) if label is not None}
    return sorted(found, key=quant_order)


def scheme_quantization(words: Iterable[str]) -> str | None:
    """The first quantisation scheme (AWQ, GPTQ, FP8, 4BIT...) named in `words` (a model
    name, tags), or None."""
    for word in words:
        match = _SCHEME_TOKEN.search(word)
        if match:
            return _SCHEME_WORDS[match.group(1).lower()]
    return None


def round_billions(parameters: int) -> float:
    """A parameter count in billions, to two decimals (`7_615_616_512` -> 7.62); counts under
    0.1 B keep two significant digits so that small models never round to 0."""
    billions = parameters / 1e9
    if billions >= 0.1:
        return round(billions, 2)
    return float(f"{billions:.2g}")
