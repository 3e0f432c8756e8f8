"""What a model cache (the Hugging Face cache) holds, as the adapter reading it reports it."""

import enum
from collections.abc import Mapping

import attrs


class HashKind(enum.StrEnum):
    SHA256 = "sha256"
    GIT_SHA1 = "git-sha1"


@attrs.frozen
class CachedFile:
    """One file of a snapshot. `blob` is the name of the blob it links to, None when it is
    not a link into `blobs/`; `present` is False when the link is broken."""

    path: str
    blob: str | None
    size_bytes: int
    present: bool = True


@attrs.frozen
class CachedSnapshot:
    revision: str
    files: tuple[CachedFile, ...]
    modified: float
    """When its newest file arrived (seconds since the epoch)."""

    @property
    def size_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)


@attrs.frozen
class CachedRepo:
    """A repo folder of the cache. `repo_id` is decoded from the folder name (and may be an
    id DEVON rejects); `unfinished` counts `.incomplete` blobs (interrupted downloads)."""

    kind: str
    repo_id: str
    folder: str
    snapshots: tuple[CachedSnapshot, ...] = ()
    refs: Mapping[str, str] = attrs.field(factory=dict)
    unfinished: int = 0
