"""GGUF quantisations as the unit of choice (ADR 0170): which files make up each
quantisation of a repository, and which files a reference or a `--quant` selects.

Pure rules over file paths and sizes. A quantisation is named by the llama.cpp type in its
file names (`Q4_K_M`, `IQ2_XS`, `BF16`); a sharded set (`x.Q8_0-00001-of-00003.gguf`, ...)
is one quantisation, whatever folder it sits in.
"""

import re
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import Protocol

from devon_core.errors import InvalidInput
from devon_core.quantization_value import Quantization as Quantization  # its home, re-exported

# GGUF quantisation types as llama.cpp names them: Q4_K_M, Q8_0, IQ2_XS, IQ4_NL, TQ1_0, F16...
_GGUF_QUANT = re.compile(
    r"(?<![A-Za-z0-9])("
    r"I?Q[1-8]_K(?:_[SML])?|I?Q[1-8]_(?:[01]|NL|XXS|XS|S|M|L)|TQ[12]_0|MXFP4|BF16|F16|F32"
    r")(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_SHARD = re.compile(r"^(?P<base>.+)-(?P<index>[0-9]{5})-of-(?P<count>[0-9]{5})\.gguf$", re.I)
_TAG = re.compile(r"[A-Za-z0-9_]{1,32}")


class SizedFile(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def size_bytes(self) -> int: ...


def is_gguf(path: str) -> bool:
    return path.lower().endswith(".gguf")


def quant_label(path: str) -> str | None:
    """The quantisation type a `.gguf` file name carries (the last one named), upper-cased;
    None for other files and for GGUF files that name none."""
    if not is_gguf(path):
        return None
    labels = [m.group(1).upper() for m in _GGUF_QUANT.finditer(PurePosixPath(path).name)]
    return labels[-1] if labels else None


def quant_order(label: str) -> tuple[int, str]:
    """Fewest bits first: `IQ2_XS`, `Q4_K_M`, `Q8_0`, `BF16`, `F16`, `F32`."""
    bits = re.search(r"[0-9]+", label)
    return (int(bits.group()) if bits else 99, label)


def shard_base(path: str) -> str | None:
    """`dir/x.Q8_0` for `dir/x.Q8_0-00002-of-00003.gguf`; None when `path` is no shard."""
    match = _SHARD.match(path)
    return match["base"] if match else None


def group_quantizations(files: Iterable[SizedFile]) -> tuple[Quantization, ...]:
    """Every quantisation among `files`, fewest bits first. Each labelled `.gguf` file is in
    exactly one quantisation; every shard of a set is in the same one as its siblings."""
    grouped: dict[str, list[SizedFile]] = {}
    for file in files:
        label = quant_label(file.path)
        if label is not None:
            grouped.setdefault(label, []).append(file)
    return tuple(
        Quantization(
            name=name,
            size_bytes=sum(f.size_bytes for f in grouped[name]),
            files=tuple(sorted(f.path for f in grouped[name])),
        )
        for name in sorted(grouped, key=quant_order)
    )


def parse_quant_tag(text: str) -> str:
    """A quantisation a user typed (`q4_k_m`, `Q4_K_M`), in its canonical upper case."""
    tag = text.strip() if isinstance(text, str) else ""
    if not _TAG.fullmatch(tag):
        raise InvalidInput(
            f"Invalid quantisation {text!r}: use a name such as Q4_K_M, Q8_0 or IQ2_XS"
        )
    return tag.upper()


def with_whole_shard_sets(chosen: Sequence[str], every: Sequence[str]) -> tuple[str, ...]:
    """`chosen` paths plus the other shards of every sharded set one of them belongs to: a
    lone shard is of no use, so choosing one file of a set chooses the set."""
    bases = {base for base in map(shard_base, chosen) if base is not None}
    extra = [path for path in every if shard_base(path) in bases]
    return tuple(sorted({*chosen, *extra}))


def literal_pattern(path: str) -> str:
    """An include glob matching exactly `path`: `*` and `?` in a name are bracketed. (A `[`
    cannot be written as a balanced glob, so it matches any one character there.)"""
    return "".join({"*": "[*]", "?": "[?]", "[": "?"}.get(c, c) for c in path)
