"""`Vault`: what the vault holds: listing, reading, removing, space, export and paths."""

from typing import BinaryIO

from devon_core import use_cases
from devon_core.errors import NotFound, about
from devon_core.facade.parts import FacadeParts
from devon_core.models import LocalModel
from devon_core.ports import ListingWriter
from devon_core.quantizations import Quantization
from devon_core.results import (
    ExportFormat,
    ExportResult,
    RemoveResult,
    StagedDownload,
    StorageSpace,
    StorageStatus,
)
from devon_core.runtime_paths import held_file_path, runtime_path, stored_quantizations


class Vault:
    """`devon.vault`: the models the vault holds and the room they take."""

    def __init__(self, parts: FacadeParts) -> None:
        self._parts = parts

    def list(self, *, source: str | None = None) -> list[LocalModel]:
        known = self._known(source)
        return use_cases.list_models(self._parts.store, source, known)

    def list_json(self, *, source: str | None = None) -> tuple[int, str]:
        """`list` as the model count and the JSON text of the models (as `json.dumps` writes
        their unstructured form), without an object per model: for large listings."""
        return use_cases.list_models_json(self._parts.store, source, self._known(source))

    def _known(self, source: str | None) -> frozenset[str]:
        return self._parts.known_sources if source is not None else frozenset()  # no plugin load

    def write_list_json(
        self, out: BinaryIO, *, source: str | None = None, head: bytes = b""
    ) -> int:
        """Write `head` and then `list_json`'s text to `out` as UTF-8, and return the model
        count: the whole listing goes from the store's kept copy to `out` without passing
        through Python when the store can (`devon list --json` at 100,000 models). Nothing
        reaches `out` unless the listing could be read, so a failure leaves no half JSON."""
        store = self._parts.store
        if source is None and isinstance(store, ListingWriter):
            return store.write_list_json(out, head)
        count, text = self.list_json(source=source)
        out.write(head + text.encode("utf-8"))
        return count

    def get(self, model_id: str, *, source: str | None = None) -> LocalModel | None:
        """The vault's entry for a model, without touching `last_used`."""
        source = self._parts.references.named(source)
        with about(source, model_id):
            return use_cases.get(self._parts.store, source, model_id)

    def held(self, model_id: str, *, source: str | None = None) -> LocalModel:
        """The vault's entry for a model named as `remove` takes it (an id, a URL its source
        reads, `<source>/<id>`), without touching `last_used`; NotFound (with "did you
        mean" ids of the vault) when the vault does not hold it."""
        parts = self._parts
        source, reference = parts.references.resolve(model_id, source)
        with about(source, reference.model_id):
            present = use_cases.get(parts.store, source, reference.model_id)
            if present is not None:
                return present
            try:
                use_cases.remove(parts.store, source, reference.model_id, parts.known_sources)
            except NotFound as error:
                raise parts.not_held(error, source, reference.model_id) from error
            raise NotFound(f"Model {reference.model_id!r} is not in the vault")

    def remove(self, model_id: str, *, source: str | None = None) -> RemoveResult:
        """Delete a model (its id, URL, or `<source>/<owner>/<name>` as DEVON prints it)."""
        parts = self._parts
        source, reference = parts.references.resolve(model_id, source)
        with about(source, reference.model_id):
            try:
                return use_cases.remove(
                    parts.store, source, reference.model_id, parts.known_sources
                )
            except NotFound as error:
                raise parts.not_held(error, source, reference.model_id) from error

    def path(self, reference: str, *, source: str | None = None) -> str:
        """The one file or folder a runtime should load for `reference` (`owner/name` or
        `owner/name:QUANT`, any form `resolve` reads) from the vault (ADR 0237): the
        quantisation's GGUF file (its first shard), the model's only GGUF file, or its
        folder when it holds none. NotFound when the vault lacks the model or the
        quantisation; ChoiceNeeded when it holds several and none is named. Counts as a
        use of the model (a runtime is about to load it)."""
        _, selection = self._parts.references.resolve(reference, source)
        model = self.held(reference, source=source)
        with about(model.source, model.model_id):
            if selection.files:  # a file URL: that file
                found = held_file_path(model, selection.files)
            else:
                held = self.held_quantizations(model)
                found = runtime_path(model, selection.quantization, held)
        self._parts.store.mark_used(model.source, model.model_id, self._parts.clock.now())
        return found

    def held_quantizations(self, model: LocalModel) -> tuple[Quantization, ...]:
        """The GGUF quantisations the vault's copy of `model` holds, with their sizes."""
        return stored_quantizations(self._parts.store, model)

    def export(
        self, format: ExportFormat | str = ExportFormat.KITT, *, gguf_files: bool = False
    ) -> ExportResult:
        """The vault's models for KITT (one path a line) or as JSON. `gguf_files` (kitt
        only): one line per GGUF quantisation a model holds, the file a runtime opens."""
        export_format = format if isinstance(format, ExportFormat) else ExportFormat.parse(format)
        return use_cases.export(self._parts.store, export_format, gguf_files)

    def status(self) -> StorageStatus:
        return use_cases.status(self._parts.store)

    def change_counter(self) -> int:
        """Changes whenever what `list`, `get` and `status` return may have changed, by any
        process using the vault: equal readings mean a cached answer is still current."""
        return self._parts.store.change_counter()

    def space(self) -> StorageSpace:
        """Free bytes on the vault's disk, bytes the vault's models use, and the quota."""
        return self._parts.store.space()

    def staging_bytes(self) -> int:
        """Bytes unfinished downloads hold in staging, read on its own (cheap): what
        `status().staging_bytes` says."""
        return self._parts.store.staging_bytes()

    def partial_bytes(self) -> int:
        """Bytes that have arrived for unfinished downloads (`status().partial_bytes`): less
        than `staging_bytes` while preallocated files wait for the rest."""
        return self._parts.store.partial_bytes()

    def unfinished_downloads(self) -> tuple[StagedDownload, ...]:
        """Each unfinished download's staging, with its bytes arrived and on disk, sorted by
        (source, model_id): what `clean(partial=True)` may remove."""
        return tuple(self._parts.store.staged())
