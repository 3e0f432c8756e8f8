"""A source that writes real files: each model is a dict of relative path -> bytes.

Like the real source, `download` writes into `dest`, reuses complete files an earlier
attempt left there (a resume), and can be told to fail part-way like a cut connection.
"""

import hashlib
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from devon_app.settings import Settings
from devon_core import (
    DownloadCancelled,
    DownloadFailed,
    NotFound,
    RemoteFile,
    RemoteModel,
    SearchFilters,
)
from devon_core.identifiers import validate_model_id
from devon_core.models import author_of, model_name_of
from devon_core.ports import ProgressCallback, StopSignal

Catalogue = Mapping[str, Mapping[str, bytes]]

DEFAULT_CATALOGUE: Catalogue = {
    "acme/widget-7b": {"config.json": b'{"layers": 2}', "model.safetensors": b"w" * 4096},
    "acme/gadget-1b": {"config.json": b"{}", "weights/part-1.bin": b"g" * 1024},
}


class FileSource:
    def __init__(
        self,
        catalogue: Catalogue = DEFAULT_CATALOGUE,
        name: str = "huggingface",
        log: Path | None = None,
        delay: float = 0.0,
    ) -> None:
        self._name = name
        self.catalogue = {k: dict(v) for k, v in catalogue.items()}
        self.revision = "1" * 40
        self.fail_after_files: int | None = None
        self.fetched: list[str] = []
        self.log = log
        self.delay = delay

    @classmethod
    def from_settings(cls, settings: Settings) -> "FileSource":
        return cls()

    @property
    def name(self) -> str:
        return self._name

    def search(self, query: str | None, filters: SearchFilters, limit: int) -> list[RemoteModel]:
        """Like the Hub: every word of `query` in the id, whatever its case, and passing
        `filters` (every model has 0 downloads: in id order)."""
        words = (query or "").lower().split()
        found = [self.info(model_id) for model_id in sorted(self.catalogue)]
        hits = [
            m for m in found if all(w in m.model_id.lower() for w in words) and filters.matches(m)
        ]
        return hits[:limit]

    def info(self, model_id: str) -> RemoteModel:
        validate_model_id(model_id)
        if model_id not in self.catalogue:
            raise NotFound(f"{model_id} is not on {self.name}")
        files = tuple(
            RemoteFile(path, len(data), hashlib.sha256(data).hexdigest())
            for path, data in sorted(self.catalogue[model_id].items())
        )
        return RemoteModel(
            source=self.name,
            model_id=model_id,
            model_name=model_name_of(model_id),
            author=author_of(model_id),
            total_size_bytes=sum(f.size_bytes for f in files),
            file_count=len(files),
            revision=self.revision,
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
        contents = self.catalogue[model.model_id]
        total = sum(f.size_bytes for f in files)
        done = 0
        metadata = Path(dest) / ".cache" / "huggingface"
        metadata.mkdir(parents=True, exist_ok=True)
        (metadata / "resume-state").write_text(model.model_id)
        for index, file in enumerate(files):
            if stop is not None and stop.is_set():
                raise DownloadCancelled(f"The download of {model.model_id} was stopped")
            if self.fail_after_files is not None and index >= self.fail_after_files:
                self.fail_after_files = None
                raise DownloadFailed(f"connection cut while fetching {file.path}")
            target = Path(dest) / file.path
            if not (target.is_file() and target.read_bytes() == contents[file.path]):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(contents[file.path])
                self.fetched.append(file.path)
                self._note(f"{model.model_id} {file.path}")
                time.sleep(self.delay)
            done += file.size_bytes
            if progress is not None:
                progress(done, total)
        return [f.path for f in files]

    def _note(self, line: str) -> None:
        if self.log is not None:
            with self.log.open("a") as handle:
                handle.write(line + "\n")


class BrokenPlugin:
    """A plugin whose factory fails, as a third-party bug would."""

    @classmethod
    def from_settings(cls, settings: Settings) -> FileSource:
        raise RuntimeError("plugin exploded")


class NotASource:
    @classmethod
    def from_settings(cls, settings: Settings) -> object:
        return object()


class LocalNamedPlugin:
    """A plugin whose source would take the built-in `local` name."""

    @classmethod
    def from_settings(cls, settings: Settings) -> FileSource:
        return FileSource(name="local")
