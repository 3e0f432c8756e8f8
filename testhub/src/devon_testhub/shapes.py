"""JSON bodies shaped like the Hub's: list items, model info, tree entries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from devon_testhub.repos import HubFile, Repo

# Fields `/api/models` returns when neither `full` nor `expand` is asked for.
LIST_DEFAULT_FIELDS = (
    "_id",
    "id",
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
)
# Added by `full=true` (siblings carry names only, never sizes, in a list).
LIST_FULL_FIELDS = ("author", "sha", "lastModified", "gated", "disabled", "siblings")
ALWAYS_FIELDS = ("_id", "id")
FILE_COMMIT_TITLE = "Upload folder using huggingface_hub"


def iso(moment: datetime) -> str:
    """`2024-03-01T12:00:00.000Z`, the Hub's timestamp form."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def trending_score(repo: Repo) -> int:
    return repo.likes // 10 + repo.downloads // 1000


def sibling(item: HubFile, blobs: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"rfilename": item.path}
    if blobs:
        entry["blobId"] = item.oid
        entry["size"] = item.size
        if item.lfs:
            entry["lfs"] = {
                "sha256": item.sha256,
                "size": item.size,
                "pointerSize": item.pointer_size,
            }
    return entry


def model_properties(repo: Repo, blobs: bool = False) -> dict[str, Any]:
    """Every property of a model, named as the Hub names them; absent ones are left out."""
    props: dict[str, Any] = {
        "_id": repo.object_id,
        "id": repo.id,
        "modelId": repo.id,
        "private": repo.private,
        "pipeline_tag": repo.pipeline_tag,
        "library_name": repo.library_name,
        "tags": list(repo.tags),
        "downloads": repo.downloads,
        "downloadsAllTime": repo.downloads * 7,
        "likes": repo.likes,
        "trendingScore": trending_score(repo),
        "sha": repo.sha,
        "lastModified": iso(repo.last_modified),
        "createdAt": iso(repo.created_at),
        "gated": repo.gated,
        "disabled": False,
        "cardData": repo.card_data,
        "siblings": [sibling(item, blobs) for item in repo.files],
        "spaces": [],
        "usedStorage": repo.used_storage,
    }
    if repo.author is not None:
        props["author"] = repo.author
    if repo.config is not None:
        props["config"] = dict(repo.config)
    if repo.safetensors is not None:
        props["safetensors"] = dict(repo.safetensors)
    if repo.gguf is not None:
        props["gguf"] = dict(repo.gguf)
    if repo.library_name == "transformers" and repo.config is not None:
        props["transformersInfo"] = {
            "auto_model": "AutoModelForCausalLM",
            "pipeline_tag": repo.pipeline_tag,
            "processor": "AutoTokenizer",
        }
    return {key: value for key, value in props.items() if value is not None}


def pick(props: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    return {key: props[key] for key in fields if key in props}


def list_item(
    repo: Repo, *, full: bool, card_data: bool, config: bool, expand: list[str]
) -> dict[str, Any]:
    """One element of `/api/models`: `expand` picks exactly those properties (plus ids)."""
    props = model_properties(repo, blobs=False)
    if expand:
        return pick(props, (*ALWAYS_FIELDS, *expand))
    fields: list[str] = list(LIST_DEFAULT_FIELDS)
    if full:
        fields += LIST_FULL_FIELDS
    if card_data:
        fields.append("cardData")
    if config:
        fields.append("config")
    return pick(props, fields)


def model_info(repo: Repo, *, blobs: bool, expand: list[str]) -> dict[str, Any]:
    """`/api/models/{id}`: everything, or with `expand` only those properties (plus ids)."""
    props = model_properties(repo, blobs=blobs)
    if expand:
        return pick(props, (*ALWAYS_FIELDS, *expand))
    props.pop("downloadsAllTime", None)
    props.pop("trendingScore", None)
    return props


def _last_commit(repo: Repo) -> dict[str, Any]:
    return {"id": repo.sha, "title": FILE_COMMIT_TITLE, "date": iso(repo.last_modified)}


def file_entry(repo: Repo, item: HubFile, expand: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "file", "oid": item.oid, "size": item.size, "path": item.path}
    if item.lfs:
        entry["lfs"] = {"oid": item.sha256, "size": item.size, "pointerSize": item.pointer_size}
    if expand:
        entry["lastCommit"] = _last_commit(repo)
        entry["securityFileStatus"] = {
            "status": "safe",
            "avScan": {"virusFound": False, "virusNames": None},
            "pickleImportScan": None,
        }
    return entry


def folder_entry(repo: Repo, path: str, expand: bool) -> dict[str, Any]:
    from devon_testhub.content import git_blob_oid

    entry: dict[str, Any] = {
        "type": "directory",
        "oid": git_blob_oid(f"tree {repo.sha} {path}".encode()),
        "size": 0,
        "path": path,
    }
    if expand:
        entry["lastCommit"] = _last_commit(repo)
    return entry


def tree_entries(
    repo: Repo, path: str, recursive: bool, expand: bool
) -> list[dict[str, Any]] | None:
    """Entries under `path` ("" is the root), folders first then files as git lists them;
    None when `path` is neither a folder nor a file of the repo."""
    prefix = f"{path.strip('/')}/" if path.strip("/") else ""
    exact = repo.file(path.strip("/"))
    if exact is not None:
        return [file_entry(repo, exact, expand)]
    files: list[HubFile] = [item for item in repo.files if item.path.startswith(prefix)]
    if prefix and not files:
        return None
    folders: set[str] = set()
    shown: list[HubFile] = []
    for item in files:
        rest = item.path[len(prefix) :]
        parts = rest.split("/")
        for depth in range(1, len(parts)):
            if depth == 1 or recursive:
                folders.add(prefix + "/".join(parts[:depth]))
        if recursive or len(parts) == 1:
            shown.append(item)
    entries = [folder_entry(repo, folder, expand) for folder in sorted(folders)]
    entries += [file_entry(repo, item, expand) for item in sorted(shown, key=lambda f: f.path)]
    return entries


def path_entries(repo: Repo, paths: Iterable[str], expand: bool) -> list[dict[str, Any]]:
    """`paths-info`: an entry for each path that is a file or a folder; others are skipped."""
    entries: list[dict[str, Any]] = []
    for path in paths:
        clean = path.strip("/")
        item = repo.file(clean)
        if item is not None:
            entries.append(file_entry(repo, item, expand))
        elif clean and any(f.path.startswith(clean + "/") for f in repo.files):
            entries.append(folder_entry(repo, clean, expand))
    return entries
