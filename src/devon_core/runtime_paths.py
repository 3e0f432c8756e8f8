"""What a runtime loads from a model in the vault (ADR 0237): one GGUF file (llama.cpp) or
the model's folder (transformers, vLLM), and the GGUF quantisations a model holds.

Pure rules over the model's recorded files; sizes come from the store, which can read them.
"""

from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath, PurePosixPath

import attrs

from devon_core.errors import ChoiceNeeded, SelectionNotFound
from devon_core.models import LocalModel
from devon_core.quantizations import Quantization, group_quantizations, is_gguf, parse_quant_tag


@attrs.frozen
class _File:
    path: str
    size_bytes: int


def held_quantizations(
    files: Iterable[str], sizes: Mapping[str, int] | None = None
) -> tuple[Quantization, ...]:
    """The GGUF quantisations among a model's `files`, fewest bits first, each with its size
    (from `sizes`, a path's size on disk; 0 where unknown)."""
    known = sizes or {}
    return group_quantizations(_File(path, known.get(path, 0)) for path in files)


def stored_quantizations(store: object, model: LocalModel) -> tuple[Quantization, ...]:
    """The quantisations `model` holds, sized from the store's files when it can read them
    (a `FileSizes` store), else with size 0."""
    from devon_core.ports import FileSizes

    gguf = [path for path in model.files if is_gguf(path)]
    if not gguf:
        return ()
    sizes = store.file_sizes(model, gguf) if isinstance(store, FileSizes) else {}
    return held_quantizations(gguf, sizes)


def file_path(model: LocalModel, relative: str) -> str:
    """The absolute path of one of the model's files (`relative` is a POSIX path)."""
    return str(PurePath(model.path, *PurePosixPath(relative).parts))


def held_file_path(model: LocalModel, files: Sequence[str]) -> str:
    """The file a reference to some of the model's files (a Hub file URL) names: the first
    (of a sharded set, the first shard); SelectionNotFound when the copy lacks one."""
    missing = [path for path in files if path not in model.files]
    if missing:
        raise SelectionNotFound(
            f"{model.model_id} in the vault holds no file {missing[0]}",
            model_id=model.model_id,
            source=model.source,
        )
    return file_path(model, sorted(files)[0])


def quantization_path(model: LocalModel, quantization: Quantization) -> str:
    """The file a runtime opens for a quantisation: its one file, or the first shard of a
    sharded set (llama.cpp finds the others beside it)."""
    return file_path(model, sorted(quantization.files)[0])


def runtime_path(
    model: LocalModel,
    quant: str | None = None,
    quantizations: Sequence[Quantization] | None = None,
) -> str:
    """The one file or folder a runtime should load from `model`:

    - with `quant`: that quantisation's file (the first shard of a sharded one);
      SelectionNotFound when the model does not hold it;
    - without: the model's one GGUF quantisation (or its one GGUF file); ChoiceNeeded
      when it holds several; the model's folder when it holds no GGUF file.
    """
    held = tuple(quantizations) if quantizations is not None else held_quantizations(model.files)
    if quant is not None:
        tag = parse_quant_tag(quant)
        for quantization in held:
            if quantization.name == tag:
                return quantization_path(model, quantization)
        names = ", ".join(q.name for q in held) or "no GGUF quantisation"
        raise SelectionNotFound(
            f"{model.model_id} in the vault holds no {tag} quantisation (it holds {names}); "
            f"`devon download {model.model_id}:{tag}` adds it",
            model_id=model.model_id,
            source=model.source,
        )
    if len(held) == 1:
        return quantization_path(model, held[0])
    if len(held) > 1:
        names = ", ".join(q.name for q in held)
        raise ChoiceNeeded(
            f"{model.model_id} holds {len(held)} GGUF quantisations ({names}): name one, "
            f"e.g. {model.model_id}:{held[0].name}",
            model.model_id,
            held,
        )
    gguf = [path for path in model.files if is_gguf(path)]
    if len(gguf) == 1:
        return file_path(model, gguf[0])
    return model.path


def runtime_paths(model: LocalModel) -> tuple[str, ...]:
    """One path per GGUF quantisation the model holds (the file a runtime opens for each),
    or its folder when it holds none: what `export --gguf-files` lists."""
    held = held_quantizations(model.files)
    if held:
        return tuple(quantization_path(model, q) for q in held)
    return (runtime_path(model),)
