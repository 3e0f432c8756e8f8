"""`HuggingFaceCacheView`: the `CacheView` port on a Hugging Face cache directory (ADR 0221).

For each model it shows, DEVON makes the layout huggingface_hub writes and reads::

    <cache>/models--<owner>--<name>/
        .devon-view.json                 DEVON's marker: what it made here, for which vault
        blobs/<etag>                     a hard link to the vault's file (a symbolic link
                                         to it when the cache is on another filesystem)
        refs/main                        the snapshot's name (no newline, as the Hub's client)
        snapshots/<commit>/<path>        relative symbolic links to ../../blobs/<etag>

`<etag>` is the file's Hub ETag (devon_adapters.model_files.identities), so huggingface_hub takes
the files as complete, and an online download of the same revision finds its blobs.

A repo folder is DEVON's only while its marker names this vault. Any other folder is never
written; inside its own folder DEVON removes only what its marker lists (a snapshot or blob
huggingface_hub added there stays, and a blob another snapshot links to is kept).
"""

import contextlib
import errno
import hashlib
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock

from devon_adapters.huggingface.cache import VIEW_MARKER as MARKER
from devon_adapters.huggingface.metadata import SOURCE_NAME as HUGGING_FACE
from devon_adapters.model_files.identities import FileIdentity, file_identities
from devon_adapters.vault.paths import FILE_MODE, VaultPaths, make_private_dirs
from devon_core.cache_view import (
    Change,
    LinkKind,
    ViewedRepo,
    ViewSkip,
    ViewSkipReason,
)
from devon_core.errors import DevonError
from devon_core.models import LocalModel

MADE_BY = "devon"
MARKER_VERSION = 1
MODELS_PREFIX = "models--"
_NO_HARD_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES}


class HuggingFaceCacheView:
    """The Hugging Face cache at `location`, as a view of the vault at `vault`."""

    def __init__(self, location: Path | str, vault: VaultPaths | Path | str) -> None:
        self._root = Path(os.path.abspath(Path(location).expanduser()))
        self._vault = vault if isinstance(vault, VaultPaths) else VaultPaths.at(vault)

    @property
    def location(self) -> str:
        return str(self._root)

    @property
    def _vault_name(self) -> str:
        """The vault as markers name it: its real root."""
        return str(self._vault.real_root)

    @property
    def source_name(self) -> str:
        return HUGGING_FACE

    def folder(self, repo_id: str) -> Path:
        return self._root / (MODELS_PREFIX + repo_id.replace("/", "--"))

    def made(self) -> list[str]:
        if not self._root.is_dir():
            return []
        return sorted(
            entry.name[len(MODELS_PREFIX) :].replace("--", "/")
            for entry in os.scandir(self._root)
            if entry.name.startswith(MODELS_PREFIX)
            and entry.is_dir(follow_symlinks=False)
            and self._marker(Path(entry.path)) is not None
        )

    def show(
        self, repo_id: str, model: LocalModel, revision: str, dry_run: bool
    ) -> ViewedRepo | ViewSkip:
        folder = self.folder(repo_id)
        try:
            identities = file_identities(model, self._vault)
        except OSError as error:
            raise DevonError(f"Cannot read the files of {model.key}: {error}") from None
        try:
            with self._lock(folder):
                # Judged under the lock: a folder another link is making has no marker
                # until it is done, and is not a foreign one.
                marker = self._marker(folder)
                if marker is None and os.path.lexists(folder):
                    return self._not_made(repo_id, model, folder)
                writer = _Writer(folder, self._vault_name, marker, dry_run)
                kinds = writer.show(Path(model.path), identities, revision)
        except OSError as error:
            raise DevonError(
                f"Could not write {folder} ({error.strerror or error}); run "
                "`devon link hf-cache` again once it can be written"
            ) from None
        return ViewedRepo(
            repo_id=repo_id,
            source=model.source,
            model_id=model.model_id,
            revision=revision,
            synthetic=revision != model.metadata.get("revision"),
            files=len(identities),
            size_bytes=sum(f.size_bytes for f in identities),
            links=_kind_of(kinds),
            change=writer.change,
        )

    def _not_made(self, repo_id: str, model: LocalModel, folder: Path) -> ViewSkip:
        return ViewSkip(
            repo_id,
            model.key,
            ViewSkipReason.NOT_MADE_BY_DEVON,
            f"{folder} was not made by DEVON for this vault: left as it is",
        )

    def hide(self, repo_id: str, dry_run: bool) -> bool:
        folder = self.folder(repo_id)
        marker = self._marker(folder)
        if marker is None:
            return False
        if dry_run:
            return True
        try:
            with self._lock(folder):
                marker = self._marker(folder)
                if marker is None:
                    return False
                return _Writer(folder, self._vault_name, marker, dry_run).hide()
        except OSError as error:
            raise DevonError(f"Could not remove {folder} ({error.strerror or error})") from None

    def _marker(self, folder: Path) -> dict[str, Any] | None:
        """The folder's marker if DEVON made the folder for this vault, else None."""
        if folder.is_symlink() or not folder.is_dir():
            return None
        try:
            marker = json.loads((folder / MARKER).read_text())
        except (OSError, ValueError):
            return None
        if (
            not isinstance(marker, dict)
            or marker.get("made_by") != MADE_BY
            or marker.get("vault") != self._vault_name
            or not isinstance(marker.get("snapshots"), dict)
        ):
            return None
        return marker

    def _lock(self, folder: Path) -> FileLock:
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:32]
        make_private_dirs(self._vault.locks)
        return FileLock(self._vault.locks / f"view-{digest}.lock", mode=FILE_MODE)


class _Writer:
    """Brings one repo folder from what its marker says DEVON made to what it should show
    (or, on a dry run, only finds whether anything would change)."""

    def __init__(
        self, folder: Path, vault: str, marker: Mapping[str, Any] | None, dry_run: bool
    ) -> None:
        self.folder = folder
        self.dry_run = dry_run
        self.vault = vault
        self.old_snapshots: dict[str, dict[str, str]] = (
            {} if marker is None else {r: dict(f) for r, f in marker["snapshots"].items()}
        )
        self.old_blobs: set[str] = set() if marker is None else set(marker.get("blobs", []))
        self.old_ref: str | None = None if marker is None else marker.get("ref")
        self.change = Change.CREATED if marker is None else Change.UNCHANGED

    def _changed(self) -> bool:
        """Note a change; whether to make it."""
        if self.change is Change.UNCHANGED:
            self.change = Change.UPDATED
        return not self.dry_run

    def show(
        self, model_dir: Path, identities: tuple[FileIdentity, ...], revision: str
    ) -> list[LinkKind]:
        files = {f.path: f.etag for f in identities}
        sources: dict[str, Path] = {}
        for f in identities:
            sources.setdefault(f.etag, model_dir / f.path)
        blobs = self.folder / "blobs"
        ours = {e for e in sources if e in self.old_blobs or not os.path.lexists(blobs / e)}
        if not self.dry_run:
            snapshots = {**self.old_snapshots, revision: files}
            self._write_marker(snapshots, self.old_blobs | ours, self.old_ref)
        kinds = [self._blob(blobs / etag, origin, etag in ours) for etag, origin in sources.items()]
        snapshot = self.folder / "snapshots" / revision
        mine = self.old_snapshots.get(revision, {})
        for path, etag in files.items():
            self._entry(snapshot / path, blobs / etag, path in mine)
        ref = self._ref(revision)
        for old_revision, old_files in self.old_snapshots.items():
            keep = files if old_revision == revision else {}
            self._drop_entries(old_revision, {p: e for p, e in old_files.items() if p not in keep})
        kept_blobs = self._drop_blobs(self.old_blobs - set(sources)) | ours
        if not self.dry_run:
            self._write_marker({revision: files}, kept_blobs, ref)
        return kinds

    def hide(self) -> bool:
        """Remove what the marker lists; whether anything was left to remove."""
        ref_path = self.folder / "refs" / "main"
        if self.old_ref is not None and _read(ref_path) == self.old_ref and self._changed():
            ref_path.unlink()
        for revision, files in self.old_snapshots.items():
            self._drop_entries(revision, files)
        left = self._drop_blobs(self.old_blobs)
        if left:  # linked from a snapshot DEVON did not make: still recorded as ours
            self._write_marker({}, left, None)
            return self.change is not Change.UNCHANGED
        (self.folder / MARKER).unlink()
        for name in ("blobs", "refs", "snapshots", ""):
            with contextlib.suppress(OSError):  # not empty: something not ours is there
                (self.folder / name).rmdir()
        return True

    def _blob(self, blob: Path, origin: Path, ours: bool) -> LinkKind:
        """Make `blob` a link to the vault's `origin` unless it already is one (a blob
        not ours is used as it is: its name is its content's hash)."""
        try:
            current = os.lstat(blob)
        except FileNotFoundError:
            current = None
        if current is not None:
            if os.path.islink(blob):
                if not ours or os.readlink(blob) == str(origin):
                    return LinkKind.SYMBOLIC
            else:
                there = os.stat(origin)
                if not ours or (current.st_dev, current.st_ino) == (there.st_dev, there.st_ino):
                    return LinkKind.HARD
        if not self._changed():
            return _would_link(blob.parent, origin)
        return _link_into_place(origin, blob)

    def _entry(self, entry: Path, blob: Path, ours: bool) -> None:
        """Make the snapshot entry `entry` a relative link to `blob`, as huggingface_hub
        does; an entry someone else put there (the same file of the same commit) stays."""
        target = os.path.relpath(blob, entry.parent)
        if os.path.islink(entry) and os.readlink(entry) == target:
            return
        if (os.path.lexists(entry) and not ours) or not self._changed():
            return
        entry.parent.mkdir(parents=True, exist_ok=True)
        temporary = entry.with_name(f".{entry.name}.devon-{uuid.uuid4().hex}")
        os.symlink(target, temporary)
        os.replace(temporary, entry)

    def _ref(self, revision: str) -> str | None:
        """Point `refs/main` at `revision` unless someone else moved it; what DEVON's ref
        now is (None: not DEVON's)."""
        path = self.folder / "refs" / "main"
        current = _read(path)
        if current == revision:
            return revision
        if current is not None and current != self.old_ref:
            return None  # huggingface_hub moved it (an online download): its ref now
        if self._changed():
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(path, revision)
        return revision

    def _drop_entries(self, revision: str, files: Mapping[str, str]) -> None:
        snapshot = self.folder / "snapshots" / revision
        for path, etag in files.items():
            entry = snapshot / path
            ours = os.path.islink(entry) and Path(os.readlink(entry)).name == etag
            if ours and self._changed():
                entry.unlink()
                _prune(entry.parent, snapshot.parent)

    def _drop_blobs(self, blobs: set[str]) -> set[str]:
        """Remove DEVON's `blobs` that no snapshot entry links to; those kept."""
        if not blobs:
            return set()
        linked = set(self._linked_blobs())
        kept = blobs & linked
        for etag in sorted(blobs - linked):
            path = self.folder / "blobs" / etag
            if os.path.lexists(path) and self._changed():
                path.unlink()
        return kept

    def _linked_blobs(self) -> Iterator[str]:
        snapshots = self.folder / "snapshots"
        if not snapshots.is_dir():
            return
        for current, _, names in os.walk(snapshots):
            for name in names:
                entry = Path(current, name)
                if entry.is_symlink():
                    yield Path(os.readlink(entry)).name

    def _write_marker(
        self, snapshots: Mapping[str, Mapping[str, str]], blobs: set[str], ref: str | None
    ) -> None:
        make_private_dirs(self.folder)  # as private as the vault it shows
        marker = {
            "made_by": MADE_BY,
            "version": MARKER_VERSION,
            "vault": self.vault,
            "snapshots": {r: dict(sorted(f.items())) for r, f in sorted(snapshots.items())},
            "blobs": sorted(blobs),
            "ref": ref,
        }
        text = json.dumps(marker, indent=1)
        if _read(self.folder / MARKER) != text:  # a link that changes nothing writes nothing
            _write_atomic(self.folder / MARKER, text)


def _link_into_place(origin: Path, blob: Path) -> LinkKind:
    """Replace `blob` at once by a hard link to `origin`, or a symbolic link to it when a
    hard link cannot be made (another filesystem)."""
    blob.parent.mkdir(parents=True, exist_ok=True)
    temporary = blob.with_name(f".{blob.name}.devon-{uuid.uuid4().hex}")
    try:
        os.link(origin, temporary)
        kind = LinkKind.HARD
    except OSError as error:
        if error.errno not in _NO_HARD_LINK:
            raise
        os.symlink(origin, temporary)
        kind = LinkKind.SYMBOLIC
    os.replace(temporary, blob)
    return kind


def _would_link(directory: Path, origin: Path) -> LinkKind:
    """The link a dry run would make: hard when `directory` (or its nearest existing
    parent) is on the vault file's filesystem."""
    while not directory.exists():
        directory = directory.parent
    return (
        LinkKind.HARD
        if os.stat(directory).st_dev == os.stat(origin).st_dev
        else (LinkKind.SYMBOLIC)
    )


def _kind_of(kinds: list[LinkKind]) -> LinkKind:
    distinct = set(kinds)
    if len(distinct) == 1:
        return distinct.pop()
    return LinkKind.MIXED if distinct else LinkKind.HARD


def _prune(directory: Path, stop: Path) -> None:
    """Remove `directory` and its parents up to (not including) `stop` while empty."""
    while directory != stop and directory.is_relative_to(stop):
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.devon-{uuid.uuid4().hex}")
    try:
        temporary.write_text(text)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
