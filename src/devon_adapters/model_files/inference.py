"""Metadata of a model folder nobody described, read from its files alone, for `scan`.

The rules are those of a model adopted from the Hugging Face cache
(`huggingface.cached_files.describe_files`: format from extensions; architecture from
`config.json`, else the GGUF header; quantisation from GGUF file names, else
`quantization_config`, else the name; parameters from a count `config.json` states, else the
safetensors or GGUF headers, else the name; license from the model card). What is found this
way is marked: the metadata carries `"inferred": true`.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from devon_adapters.huggingface.cached_files import describe_files
from devon_core.commit_metadata import CommitMetadata


def infer_metadata(directory: Path, files: Iterable[str], model_id: str) -> dict[str, Any]:
    """The metadata of the model `model_id` whose folder `directory` holds `files` (relative
    POSIX paths)."""
    described = describe_files(model_id, directory, sorted(files))
    return CommitMetadata(recorded=described, inferred=True).as_dict()
