"""What a commit records about a model: the keys of `LocalModel.metadata`, named once.

`as_dict()` is exactly what the index, the manifest and the API carry (ADR 0196): a model
described by its source (or its files) records all seven described keys, nulls included, in
this order; then `recorded`, keys kept as given in their order (the metadata a DEVON 1.2
vault recorded, imported verbatim; what `devon scan` reads from a model's files); then the
markers, only when set.
"""

from collections.abc import Mapping
from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class ModelDescription:
    """What the source (or the model's own files) says of the copy committed."""

    revision: str | None = None
    include_patterns: tuple[str, ...] | None = None
    """The include globs the copy was downloaded with; None: every file."""
    parameter_count: float | None = None
    """Billions of parameters."""
    format: tuple[str, ...] = ()
    quantization: str | None = None
    architecture: str | None = None
    license: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "include_patterns": list(self.include_patterns) if self.include_patterns else None,
            "parameter_count": self.parameter_count,
            "format": list(self.format),
            "quantization": self.quantization,
            "architecture": self.architecture,
            "license": self.license,
        }


@attrs.frozen
class DeclaredFile:
    """What the source declared of one file at download time (ADR 0220): its size and, for a
    file it keeps in LFS, the content's sha256; the git blob id where the source named it
    (an adopted cache names it as the blob)."""

    size_bytes: int
    sha256: str | None = None
    git_blob_id: str | None = None


@attrs.frozen(kw_only=True)
class CommitMetadata:
    """Every key a commit may record. None (or False) markers are not recorded."""

    described: ModelDescription | None = None
    adopted_from: str | None = None
    """The Hugging Face cache directory an adopted model came from."""
    metadata_from: str | None = None
    """Who described an adopted model: its source's name, or `cache` (its files)."""
    inferred: bool = False
    """The description was inferred from the files (`devon scan`), not given by a source."""
    recorded: Mapping[str, Any] = attrs.field(factory=dict)
    """Keys kept exactly as given, in their order, after the described ones."""
    declared_files: Mapping[str, DeclaredFile] = attrs.field(factory=dict)
    """Each file's identity as the source declared it, by path; empty when the source said
    nothing (a scan, an import). Recorded beside the index, not in `as_dict` (ADR 0220)."""

    def as_dict(self) -> dict[str, Any]:
        stored: dict[str, Any] = self.described.as_dict() if self.described else {}
        stored.update(self.recorded)
        if self.adopted_from is not None:
            stored["adopted_from"] = self.adopted_from
        if self.metadata_from is not None:
            stored["metadata_from"] = self.metadata_from
        if self.inferred:
            stored["inferred"] = True
        return stored

    @classmethod
    def as_recorded(cls, metadata: Mapping[str, Any]) -> "CommitMetadata":
        """Metadata written by another DEVON (or by hand), carried as it is."""
        return cls(recorded=dict(metadata))
