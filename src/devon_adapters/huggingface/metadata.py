"""Turning a Hub `ModelInfo` into DEVON's `RemoteModel`. Pure: no network, no clock.

The rules (each documented in docs/huggingface.md):
- `parameter_count`: the Hub's safetensors total, else its GGUF total, else the model name;
  in billions, see `names.round_billions` and `names.parameters_from_name`.
- `format`: from file extensions; `quantization`: from GGUF file names (several quantisations
  are joined with `,`), else the config's `quantization_config`, else the name and tags.
- `architecture`: config `model_type`, else GGUF `architecture`, else a known tag.
- `license`: card data, else a `license:` tag.
- files: a name, size or sha256 that `file_listing_problem` refuses refuses the record.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeGuard

from huggingface_hub import ModelInfo

from devon_adapters.huggingface.names import (
    formats_of,
    gguf_quantizations,
    parameters_from_name,
    round_billions,
    scheme_quantization,
)
from devon_adapters.outbound import OutboundRefusal
from devon_core.listed_files import file_listing_problem
from devon_core.models import RemoteFile, RemoteModel, author_of, model_name_of
from devon_core.serialization import timestamp

SOURCE_NAME = "huggingface"
DEFAULT_WEB_BASE = "https://huggingface.co"

# `model_type`s the Hub also shows as tags; used only when neither config nor GGUF says.
KNOWN_ARCHITECTURES = frozenset(
    {
        "bert",
        "bloom",
        "cohere",
        "deepseek_v2",
        "deepseek_v3",
        "falcon",
        "gemma",
        "gemma2",
        "gemma3",
        "gpt2",
        "gpt_neox",
        "gptj",
        "granite",
        "llama",
        "mamba",
        "mistral",
        "mixtral",
        "mpt",
        "olmo",
        "olmo2",
        "opt",
        "phi",
        "phi3",
        "qwen2",
        "qwen2_moe",
        "qwen3",
        "qwen3_moe",
        "stablelm",
        "starcoder2",
        "t5",
        "xlm-roberta",
    }
)


def web_url_template(web_base: str) -> str:
    """A model's page on the Hub at `web_base`, `{model_id}` standing for its id."""
    return f"{web_base.rstrip('/')}/{{model_id}}"


def remote_model(info: ModelInfo, web_base: str = DEFAULT_WEB_BASE) -> RemoteModel:
    """Everything DEVON reports about a model, from what the Hub said about it.

    `web_base` is the Hub's address (the configured endpoint). Sizes come from the siblings'
    metadata, so `info` should come from a details call (`files_metadata=True`); a list entry
    gives sizes of 0.
    """
    files = remote_files(info)
    paths = [f.path for f in files]
    tags = tags_of(info)
    config = info.config if isinstance(info.config, dict) else {}
    gguf = info.gguf if isinstance(info.gguf, dict) else {}
    web_url = web_url_template(web_base).format(model_id=info.id)
    return RemoteModel(
        source=SOURCE_NAME,
        model_id=info.id,
        model_name=model_name_of(info.id),
        author=info.author or author_of(info.id),
        total_size_bytes=sum(f.size_bytes for f in files),
        file_count=len(files),
        parameter_count=parameter_count(info),
        architecture=architecture_of(config, gguf, tags),
        format=formats_of(paths),
        quantization=quantization_of(info.id, paths, tags, config),
        tags=tuple(tags),
        license=license_of(info.card_data, tags),
        downloads=info.downloads or 0,
        likes=info.likes or 0,
        created_at=_time(info.created_at or info.last_modified),
        updated_at=_time(info.last_modified or info.created_at),
        web_url=web_url,
        repo_url=f"{web_url}/tree/main",
        revision=info.sha,
        files=files,
    )


class RefusedRecord(OutboundRefusal):
    """A model record that lists a file DEVON cannot take (`file_listing_problem`)."""


def remote_files(info: ModelInfo) -> tuple[RemoteFile, ...]:
    """Every file of the revision, with its size and, for LFS files, its sha256. A file
    name, size or sha256 that cannot be taken raises RefusedRecord (a list entry, without
    sizes, lists none: its sizes count as 0)."""
    files = []
    for sibling in info.siblings or ():
        lfs = sibling.lfs
        size = lfs.size if lfs is not None else sibling.size
        size = 0 if size is None else size
        sha256 = lfs.sha256 if lfs else None
        problem = file_listing_problem(sibling.rfilename, size, sha256)
        if problem is not None:
            raise RefusedRecord(f"it listed {problem}")
        files.append(RemoteFile(sibling.rfilename, size, sha256))
    return tuple(sorted(files, key=lambda f: f.path))


# Dtypes that pack several quantised weights per element (AWQ/GPTQ int4 in I32, bitsandbytes
# in U8): the Hub's safetensors count of such a repo is far below the model's real size.
PACKED_DTYPES = frozenset({"I32", "U8", "I8"})


def parameter_count(info: ModelInfo) -> float | None:
    """In billions: the safetensors total, else the GGUF total, else read from the name.
    A safetensors count of packed weights defers to the name when the name has a size."""
    from_name = parameters_from_name(model_name_of(info.id))
    safetensors = info.safetensors
    if safetensors is not None and _positive(safetensors.total):
        packed = PACKED_DTYPES.intersection(safetensors.parameters or {})
        if packed and from_name is not None:
            return from_name
        return round_billions(safetensors.total)
    gguf_total = info.gguf.get("total") if isinstance(info.gguf, dict) else None
    if _positive(gguf_total):
        return round_billions(gguf_total)
    return from_name


def _positive(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def tags_of(info: ModelInfo) -> list[str]:
    """The Hub's tags, with the pipeline tag included (the `task` filter matches tags)."""
    tags = [t for t in info.tags or () if isinstance(t, str)]
    if info.pipeline_tag and info.pipeline_tag not in tags:
        tags.append(info.pipeline_tag)
    return list(dict.fromkeys(tags))


def quantization_of(
    model_id: str, paths: Iterable[str], tags: Iterable[str], config: Mapping[str, Any]
) -> str | None:
    """GGUF quantisations in file names (comma-joined when several), else the config's
    `quantization_config`, else a scheme named in the model name or tags."""
    quants = gguf_quantizations(paths)
    if quants:
        return ",".join(quants)
    from_config = _config_quantization(config)
    if from_config:
        return from_config
    return scheme_quantization([model_name_of(model_id), *tags])


def _config_quantization(config: Mapping[str, Any]) -> str | None:
    settings = config.get("quantization_config")
    if not isinstance(settings, dict):
        return None
    method = settings.get("quant_method")
    if not isinstance(method, str) or not method:
        return None
    if method == "bitsandbytes":
        return "BNB-4BIT" if settings.get("load_in_4bit") else "BNB-8BIT"
    return method.upper()


def architecture_of(
    config: Mapping[str, Any], gguf: Mapping[str, Any], tags: Iterable[str]
) -> str | None:
    """The config's `model_type`, else the GGUF `architecture`, else a known architecture tag."""
    for value in (config.get("model_type"), gguf.get("architecture")):
        if isinstance(value, str) and value:
            return value
    return next((t for t in tags if t in KNOWN_ARCHITECTURES), None)


def license_of(card_data: Any, tags: Iterable[str]) -> str | None:
    """The model card's `license`, else the value of a `license:` tag."""
    value = card_data.get("license") if card_data is not None else None
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, str) and value:
        return value
    return next((t.partition(":")[2] for t in tags if t.startswith("license:")), None)


def _time(value: datetime | None) -> str:
    return timestamp(value) if value is not None else ""
