"""The two things DEVON knows about: a model on a source, and a model in the vault."""

from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import attrs

from devon_core.quantizations import Quantization, group_quantizations


@attrs.frozen
class RemoteFile:
    """One file of a model's revision, as the source lists it."""

    path: str
    size_bytes: int
    sha256: str | None = None


@attrs.frozen
class RemoteModel:
    """A model on a source: every field of the API's search result, plus what a download needs.

    `revision` and `files` are not part of the wire shape: they pin a download to the
    revision that was inspected and let the core decide which files to fetch.
    """

    source: str
    model_id: str
    model_name: str
    author: str | None = None
    total_size_bytes: int = 0
    file_count: int = 0
    parameter_count: float | None = None
    architecture: str | None = None
    format: tuple[str, ...] = ()
    quantization: str | None = None
    tags: tuple[str, ...] = ()
    license: str | None = None
    downloads: int = 0
    likes: int = 0
    created_at: str = ""
    updated_at: str = ""
    web_url: str = ""
    repo_url: str = ""
    revision: str | None = None
    files: tuple[RemoteFile, ...] = ()
    quantizations: tuple[Quantization, ...] = attrs.field(
        default=attrs.Factory(lambda self: group_quantizations(self.files), takes_self=True)
    )
    """Each GGUF quantisation with its size and files (ADR 0170); derived from `files`."""


@attrs.frozen
class LocalModel:
    """A complete model in the vault. `files` are sorted POSIX paths relative to `path`."""

    source: str
    model_id: str
    path: str
    size_bytes: int
    downloaded_at: datetime
    last_used: datetime | None = None
    files: tuple[str, ...] = ()
    metadata: dict[str, Any] = attrs.field(factory=dict)

    @property
    def key(self) -> str:
        """`<source>/<model_id>`, as clean reports it."""
        return f"{self.source}/{self.model_id}"

    @property
    def reference_time(self) -> datetime:
        """When the model was last touched: `last_used`, else `downloaded_at`."""
        return self.last_used or self.downloaded_at


def model_name_of(model_id: str) -> str:
    """The last part of a model id: `Qwen2.5-7B` for `Qwen/Qwen2.5-7B`."""
    return PurePosixPath(model_id).name


def author_of(model_id: str) -> str | None:
    """The owner part of `owner/name`, or None for a bare legacy id."""
    owner, sep, _ = model_id.partition("/")
    return owner if sep else None
