"""`folder`: a source plugin whose models are folders on disk, the worked example of
docs/plugins.md.

A model `owner/name` is the folder `<root>/owner/name/` and its files; `root` is the plugin's
own setting (`[folder] root = "..."` in the config file, or `DEVON_FOLDER_ROOT`).
"""

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import attrs

from devon_app.settings import Settings, setting
from devon_core import (
    DownloadCancelled,
    InvalidInput,
    NotFound,
    RemoteFile,
    RemoteModel,
    SearchFilters,
    SourceUnavailable,
)
from devon_core.identifiers import validate_model_id
from devon_core.models import author_of, model_name_of
from devon_core.ports import ProgressCallback, StopSignal


def _folder(raw: object, origin: str) -> Path:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput(f"{origin} must be a folder path")
    return Path(raw.strip()).expanduser()


@attrs.frozen
class FolderSettings:
    root: Path | None = setting(
        key="root",
        env="DEVON_FOLDER_ROOT",
        parse=_folder,
        help="The folder whose owner/name sub-folders are the models.",
    )


class FolderSource:
    name = "folder"

    def __init__(self, root: Path | None) -> None:
        self.root = root

    @classmethod
    def from_settings(cls, settings: Settings) -> "FolderSource":
        return cls(settings.section("folder", FolderSettings).root)

    def search(self, query: str | None, filters: SearchFilters, limit: int) -> list[RemoteModel]:
        words = (query or "").lower().split()  # as the Hub: each word, whatever its case
        found = [self.info(model_id) for model_id in self._model_ids()]
        hits = [
            m for m in found if all(w in m.model_id.lower() for w in words) and filters.matches(m)
        ]
        return sorted(hits, key=lambda m: -m.downloads)[:limit]

    def info(self, model_id: str) -> RemoteModel:
        validate_model_id(model_id)  # never a folder outside the catalogue (`../x`)
        folder = self._folder_of(model_id)
        if not folder.is_dir():
            raise NotFound(f"{model_id} is not in {self._catalogue()}")
        files = tuple(
            RemoteFile(p.relative_to(folder).as_posix(), p.stat().st_size, _sha256(p))
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        )
        return RemoteModel(
            source=self.name,
            model_id=model_id,
            model_name=model_name_of(model_id),
            author=author_of(model_id),
            total_size_bytes=sum(f.size_bytes for f in files),
            file_count=len(files),
            revision="0" * 40,
            files=files,
        )

    def download(
        self,
        model: RemoteModel,
        files: Sequence[RemoteFile],
        dest: str,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[str]:
        folder = self._folder_of(model.model_id)
        total = sum(f.size_bytes for f in files)
        done = 0
        for file in files:
            if stop is not None and stop.is_set():
                raise DownloadCancelled(f"The download of {model.model_id} was stopped")
            target = Path(dest) / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / file.path, target)
            done += file.size_bytes
            if progress is not None:
                progress(done, total)
        return [f.path for f in files]

    def _catalogue(self) -> Path:
        if self.root is None or not self.root.is_dir():
            raise SourceUnavailable(
                "The folder source has no catalogue: set DEVON_FOLDER_ROOT "
                "(or `root` in the config file's [folder] table) to an existing folder"
            )
        return self.root

    def _model_ids(self) -> list[str]:
        """The `owner/name` folders whose names DEVON can keep as ids (others are left out)."""
        root = self._catalogue()
        ids = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*") if p.is_dir())
        return [model_id for model_id in ids if _valid_id(model_id)]

    def _folder_of(self, model_id: str) -> Path:
        return self._catalogue() / model_id


def _valid_id(model_id: str) -> bool:
    try:
        validate_model_id(model_id)
    except InvalidInput:
        return False
    return True


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
