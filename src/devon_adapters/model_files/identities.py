"""Each vault file's identity on the Hub: LFS or not, its sha256 or git blob id (ADR 0220).

huggingface_hub reuses a file only when its name in the cache (`blobs/<etag>`) is the ETag
the Hub sends: the content's sha256 for a file the Hub keeps in LFS, the git blob id (sha1
of `blob <size>\\0` + content) for any other. So which files are LFS must follow the source
exactly, and it is recorded when the model is committed:

    <vault>/.devon/hub-files/declared/<source>/<model_id>.json   what the source declared
    <vault>/.devon/hub-files/hashes/<source>/<model_id>.json     hashes computed here (cache)

The declared record (written by the store at commit, removed with the model) holds the
revision and, per file, the size and the sha256 the source listed it with (LFS) or null,
and a git blob id where the source named one (an adopted cache's blob names). It is used
only while the model's revision and each file's size still match it.

A model with no record (found by `devon scan`, imported from DEVON 1.x, committed by a
source that lists no hashes), and a file its record does not list (kept from an earlier
copy the source no longer lists), follow the Hub's default rule: a file is LFS when its
`.gitattributes` (if the model holds one) or the Hub's default `.gitattributes` tracks it,
or when it is larger than 10 MiB (the Hub refuses such files outside LFS).

Hashes not declared are computed once and cached, keyed by the file's size, mtime and
inode: asking again costs a `stat` per file, never a read of the content.
"""

import contextlib
import fnmatch
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from devon_adapters.vault.paths import FILE_MODE, VaultPaths, make_private_dirs
from devon_core.cached import HashKind
from devon_core.commit_metadata import DeclaredFile
from devon_core.models import LocalModel

RECORDS_DIR = "hub-files"
RECORD_VERSION = 1
CHUNK = 1024 * 1024

LARGEST_NON_LFS = 10 * 1024 * 1024
"""The Hub keeps any file larger than this in LFS."""

HUB_DEFAULT_LFS_PATTERNS = (
    "*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib",
    "*.lfs.*", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
    "*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
    "saved_model/**/*", "*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip",
    "*.zst", "*tfevents*", "*.gguf",
)  # fmt: skip
"""The `.gitattributes` the Hub gives a new model repo (with `*.gguf`, which GGUF repos add)."""


@attrs.frozen
class FileIdentity:
    path: str
    """POSIX path relative to the model folder."""
    size_bytes: int
    sha256: str | None
    """The content's sha256 when the Hub keeps the file in LFS."""
    git_blob_id: str | None
    """sha1 of `blob <size>\\0` + content, when the file is not LFS."""

    @property
    def is_lfs(self) -> bool:
        return self.sha256 is not None

    @property
    def etag(self) -> str:
        """The Hub's ETag for the file, and its blob name in a Hugging Face cache."""
        etag = self.sha256 if self.sha256 is not None else self.git_blob_id
        assert etag is not None  # one of the two is always set
        return etag


def file_identities(model: LocalModel, vault: VaultPaths | Path | str) -> tuple[FileIdentity, ...]:
    """Every file of `model` (in `model.files` order) with its Hub identity. `vault` is the
    vault's root (or its `VaultPaths`). Hashes not declared are read from the cache or
    computed (once) and cached. OSError when a file of the model cannot be read."""
    return _identities(model, vault, model.files)


def file_identity(model: LocalModel, vault: VaultPaths | Path | str, path: str) -> FileIdentity:
    """One file's identity, as `file_identities` gives it, looking at that file only (one
    `stat` once its hash is cached). KeyError when `path` is not a file of `model`."""
    if path not in model.files:
        raise KeyError(path)
    return _identities(model, vault, (path,))[0]


def _identities(
    model: LocalModel, vault: VaultPaths | Path | str, wanted: Sequence[str]
) -> tuple[FileIdentity, ...]:
    paths = vault if isinstance(vault, VaultPaths) else VaultPaths.at(vault)
    folder = Path(model.path)
    stats = {f: os.stat(folder / f) for f in wanted}
    declared = _usable_declared(paths, model, {f: s.st_size for f, s in stats.items()}) or {}
    by_rule = _default_rule(folder, model.files)
    cache_path = _record_path(paths, "hashes", model.source, model.model_id)
    cached = _read_json(cache_path).get("files", {})
    kept = {p: e for p, e in cached.items() if p in model.files and p not in stats}
    fresh: dict[str, Any] = {}
    found = []
    for relative, stat in stats.items():
        entry = declared.get(relative)
        # What the source declared decides; a file it did not list follows the Hub's rule.
        lfs = entry.sha256 is not None if entry else by_rule(relative, stat.st_size)
        known = (entry.sha256 if lfs else entry.git_blob_id) if entry else None
        if known is None:
            kind = HashKind.SHA256 if lfs else HashKind.GIT_SHA1
            known = _cached_hash(cached.get(relative), stat, kind)
            if known is None:
                known = hash_file(folder / relative, kind)
            fresh[relative] = _cache_entry(stat, kind, known)
        found.append(
            FileIdentity(relative, stat.st_size, known if lfs else None, None if lfs else known)
        )
    if {**kept, **fresh} != cached:
        with contextlib.suppress(OSError):  # a cache: a vault read-only to us still answers
            _write_json(cache_path, {"version": RECORD_VERSION, "files": {**kept, **fresh}})
    return tuple(found)


def hash_file(path: Path | str, kind: HashKind) -> str:
    """The sha256 of a file's content, or its git blob id."""
    with open(path, "rb") as stream:
        if kind is HashKind.SHA256:
            hasher = hashlib.sha256()
        else:
            size = os.fstat(stream.fileno()).st_size
            hasher = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
        while piece := stream.read(CHUNK):
            hasher.update(piece)
    return hasher.hexdigest()


def lfs_by_default(
    path: str, size_bytes: int, patterns: Sequence[str] = HUB_DEFAULT_LFS_PATTERNS
) -> bool:
    """Whether the Hub would keep `path` in LFS under `patterns` (`.gitattributes` globs)."""
    if size_bytes > LARGEST_NON_LFS:
        return True
    name = path.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(path if "/" in p else name, p.replace("**/", "")) for p in patterns
    )


def record_declared(
    vault: VaultPaths,
    source: str,
    model_id: str,
    revision: str | None,
    declared: Mapping[str, DeclaredFile],
    carried: Sequence[str] = (),
) -> None:
    """Write what the source declared of a model's files (nothing declared: drop the record).
    Files in `carried` (kept from the vault's previous copy) keep their earlier entry."""
    path = _record_path(vault, "declared", source, model_id)
    if not declared:
        forget(vault, source, model_id)
        return
    files = {p: attrs.asdict(d) for p, d in sorted(declared.items())}
    if carried:
        before = _read_json(path).get("files", {})
        files.update({p: before[p] for p in carried if p in before})
    _write_json(path, {"version": RECORD_VERSION, "revision": revision, "files": files})


def forget(vault: VaultPaths, source: str, model_id: str) -> None:
    """Delete a model's records (it left the vault)."""
    for kind in ("declared", "hashes"):
        with contextlib.suppress(FileNotFoundError):
            _record_path(vault, kind, source, model_id).unlink()


def _usable_declared(
    vault: VaultPaths, model: LocalModel, sizes: Mapping[str, int]
) -> dict[str, DeclaredFile] | None:
    """The declared identities, or None when there is no record or it is not this copy's
    (another revision, or a file of another size: a commit that did not finish)."""
    record = _read_json(_record_path(vault, "declared", model.source, model.model_id))
    files = record.get("files")
    if not isinstance(files, dict) or record.get("revision") != model.metadata.get("revision"):
        return None
    try:
        declared = {p: DeclaredFile(**entry) for p, entry in files.items()}
    except TypeError:
        return None
    if any(p in declared and declared[p].size_bytes != size for p, size in sizes.items()):
        return None
    return declared


def _default_rule(folder: Path, files: Sequence[str]) -> Callable[[str, int], bool]:
    """The Hub's rule for the model: its own `.gitattributes` (read on first use) if it
    holds a readable one, else the Hub's default."""
    found: list[Sequence[str]] = []

    def rule(path: str, size: int) -> bool:
        if not found:
            own = _lfs_patterns(folder) if ".gitattributes" in files else None
            found.append(HUB_DEFAULT_LFS_PATTERNS if own is None else own)
        return lfs_by_default(path, size, found[0])

    return rule


def _lfs_patterns(folder: Path) -> Sequence[str] | None:
    """The patterns a `.gitattributes` keeps in LFS; None when it cannot be read."""
    try:
        lines = (folder / ".gitattributes").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return [line.split()[0] for line in lines if "filter=lfs" in line.split()[1:]]


def _cached_hash(entry: Any, stat: os.stat_result, kind: HashKind) -> str | None:
    if not isinstance(entry, dict) or entry != {**entry, **_stamp(stat)}:
        return None
    value = entry.get(kind.value)
    return value if isinstance(value, str) else None


def _cache_entry(stat: os.stat_result, kind: HashKind, digest: str) -> dict[str, Any]:
    return {**_stamp(stat), kind.value: digest}


def _stamp(stat: os.stat_result) -> dict[str, int]:
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}


def _record_path(vault: VaultPaths, kind: str, source: str, model_id: str) -> Path:
    model_dir = vault.model_dir(source, model_id)  # validates both names
    relative = model_dir.relative_to(vault.root)
    return vault.state / RECORDS_DIR / kind / f"{relative}.json"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) and loaded.get("version") == RECORD_VERSION else {}


def _write_json(path: Path, value: Mapping[str, Any]) -> None:
    """Replace `path` at once (readers see the old or the new record, never half)."""
    make_private_dirs(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w") as out:
            json.dump(value, out, separators=(",", ":"))
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
