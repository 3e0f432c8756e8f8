"""A repo the test hub serves: its files and the metadata the Hub would report for it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from devon_testhub.content import FileContent, git_blob_oid, json_file, safetensors_file

LFS_SUFFIXES = (".safetensors", ".gguf", ".bin", ".onnx", ".onnx_data", ".pt", ".pth", ".h5")
GITATTRIBUTES = "".join(
    f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n" for suffix in LFS_SUFFIXES
)

Gated = Literal["auto", "manual", False]


@dataclass(frozen=True)
class HubFile:
    """One file of a repo. LFS files are reported with their sha256 and pointer size."""

    path: str
    content: FileContent
    lfs: bool

    @property
    def size(self) -> int:
        return self.content.size

    @property
    def sha256(self) -> str:
        return self.content.sha256

    @cached_property
    def oid(self) -> str:
        """Git blob id: of the LFS pointer for LFS files, of the bytes otherwise."""
        if self.lfs:
            return git_blob_oid(self.content.lfs_pointer())
        return git_blob_oid(self.content.read())

    @property
    def etag(self) -> str:
        """What `/resolve` sends as ETag (unquoted): sha256 for LFS files, else the blob id."""
        return self.sha256 if self.lfs else self.oid

    @property
    def pointer_size(self) -> int:
        return len(self.content.lfs_pointer())


def hub_file(path: str, content: FileContent, lfs: bool | None = None) -> HubFile:
    """A file; LFS unless told otherwise when its name ends like a weights file."""
    return HubFile(path, content, path.endswith(LFS_SUFFIXES) if lfs is None else lfs)


@dataclass(frozen=True)
class Repo:
    """A model repo at a single commit, with the metadata the Hub computes for it."""

    id: str
    files: tuple[HubFile, ...]
    license: str = "apache-2.0"
    pipeline_tag: str | None = "text-generation"
    library_name: str | None = "transformers"
    extra_tags: tuple[str, ...] = ()
    downloads: int = 0
    likes: int = 0
    created_at: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    last_modified: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    gated: Gated = False
    private: bool = False
    safetensors: Mapping[str, Any] | None = None
    gguf: Mapping[str, Any] | None = None
    config: Mapping[str, Any] | None = None
    base_model: str | None = None
    card_extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def author(self) -> str | None:
        return self.id.split("/", 1)[0] if "/" in self.id else None

    @property
    def name(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    @cached_property
    def sha(self) -> str:
        """The commit id of `main` (the only revision): stable for a given repo content."""
        digest = hashlib.sha1(self.id.encode(), usedforsecurity=False)
        for item in self.files:
            digest.update(f"{item.path}\0{item.size}\0".encode())
        return digest.hexdigest()

    @property
    def object_id(self) -> str:
        """The Hub's `_id` (a 24-hex database id)."""
        return hashlib.sha1(b"_id" + self.id.encode(), usedforsecurity=False).hexdigest()[:24]

    def file(self, path: str) -> HubFile | None:
        return self._by_path.get(path)

    @cached_property
    def _by_path(self) -> dict[str, HubFile]:
        return {item.path: item for item in self.files}

    @property
    def used_storage(self) -> int:
        return sum(item.size for item in self.files)

    @cached_property
    def tags(self) -> list[str]:
        """Tags as the Hub computes them: library, formats, pipeline, card tags, license, region."""
        tags: list[str] = []
        if self.library_name:
            tags.append(self.library_name)
        suffixes = {item.path.rsplit(".", 1)[-1] for item in self.files}
        for fmt in ("safetensors", "gguf", "onnx"):
            if fmt in suffixes and fmt not in tags:
                tags.append(fmt)
        if "bin" in suffixes and "pytorch" not in tags:
            tags.append("pytorch")
        if self.config and self.config.get("model_type"):
            tags.append(str(self.config["model_type"]))
        if self.pipeline_tag:
            tags.append(self.pipeline_tag)
        tags.extend(tag for tag in self.extra_tags if tag not in tags)
        if self.base_model:
            tags.append(f"base_model:{self.base_model}")
        tags.append(f"license:{self.license}")
        tags.append("region:us")
        return tags

    @property
    def card_data(self) -> dict[str, Any]:
        card: dict[str, Any] = {"license": self.license}
        if self.library_name:
            card["library_name"] = self.library_name
        if self.pipeline_tag:
            card["pipeline_tag"] = self.pipeline_tag
        if self.extra_tags:
            card["tags"] = list(self.extra_tags)
        if self.base_model:
            card["base_model"] = self.base_model
        card.update(self.card_extra)
        return card

    @property
    def parameter_total(self) -> int | None:
        """Parameters as the Hub reports them (safetensors, else GGUF), if it reports any."""
        for info in (self.safetensors, self.gguf):
            if info and isinstance(info.get("total"), int):
                return int(info["total"])
        return None


def readme_for(repo: Repo) -> FileContent:
    lines = ["---"]
    for key, value in repo.card_data.items():
        if isinstance(value, list):
            lines.append(f"{key}:")
            lines.extend(f"- {item}" for item in value)
        else:
            lines.append(f"{key}: {value}")
    lines += [
        "---",
        "",
        f"# {repo.name}",
        "",
        "A synthetic model card served by the DEVON test hub. The weights are filler bytes.",
        "",
    ]
    return FileContent.text("\n".join(lines))


def finish_repo(repo: Repo) -> Repo:
    """Add the files every Hub repo has (`.gitattributes`, `README.md` from the card data)."""
    present = {item.path for item in repo.files}
    extra: list[HubFile] = []
    if ".gitattributes" not in present:
        extra.append(hub_file(".gitattributes", FileContent.text(GITATTRIBUTES)))
    if "README.md" not in present:
        extra.append(hub_file("README.md", readme_for(repo)))
    files = tuple(sorted((*repo.files, *extra), key=lambda item: item.path))
    return replace(repo, files=files)


def sharded_safetensors(
    seed: str, shard_sizes: list[int], parameters: int, dtype: str = "BF16"
) -> list[HubFile]:
    """Shards `model-0000i-of-0000n.safetensors` plus `model.safetensors.index.json`."""
    count = len(shard_sizes)
    names = [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]
    shards = [
        hub_file(name, safetensors_file(size, f"{seed}/{name}", f"model.layers.{i}.weight"))
        for i, (name, size) in enumerate(zip(names, shard_sizes, strict=True))
    ]
    index = {
        "metadata": {"total_size": sum(shard_sizes), "total_parameters": parameters},
        "weight_map": {f"model.layers.{i}.weight": name for i, name in enumerate(names)},
        "dtype": dtype,
    }
    return [*shards, hub_file("model.safetensors.index.json", json_file(index))]
