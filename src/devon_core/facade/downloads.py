"""`Downloads`: bringing models into the vault, as `DownloadRequest`s."""

from devon_core import use_cases
from devon_core.download_plan import DownloadPlan, plan_download
from devon_core.download_request import DownloadRequest
from devon_core.errors import about
from devon_core.facade.parts import FacadeParts
from devon_core.models import LocalModel
from devon_core.ports import ProgressCallback
from devon_core.quantizations import literal_pattern
from devon_core.results import Downloaded
from devon_core.rules import select_files

Selection = tuple[str, str, tuple[str, ...] | None]
"""(source, plain model id, include patterns): a request as the vault and jobs take it."""


class Downloads:
    """`devon.downloads`: fetch, plan and read download requests."""

    def __init__(self, parts: FacadeParts) -> None:
        self._parts = parts

    def fetch(
        self, request: DownloadRequest, progress: ProgressCallback | None = None
    ) -> Downloaded:
        """Bring what `request` asks for into the vault, saying whether anything was
        transferred (False: the vault already held it; its copy is returned marked used)."""
        source, model_id, patterns = self.selection(request)
        plugin = self._parts.source(source)
        with about(source, model_id), self._parts.suggesting(plugin, model_id):
            return use_cases.download_outcome(
                plugin,
                self._parts.store,
                self._parts.clock,
                model_id,
                force=request.force,
                include_patterns=patterns,
                progress=progress,
            )

    def download(
        self, request: DownloadRequest, progress: ProgressCallback | None = None
    ) -> LocalModel:
        """The vault's copy after `fetch`."""
        return self.fetch(request, progress).model

    def plan(self, request: DownloadRequest) -> DownloadPlan:
        """What `fetch` would bring (files, sizes, total), and the same errors, fetching
        nothing."""
        source, model_id, patterns = self.selection(request)
        plugin = self._parts.source(source)
        with about(source, model_id), self._parts.suggesting(plugin, model_id):
            return plan_download(
                plugin,
                self._parts.store,
                self._parts.clock,
                model_id,
                include_patterns=patterns,
                force=request.force,
            )

    def selection(self, request: DownloadRequest) -> Selection:
        """(source, plain model id, include patterns) for `request` (ADR 0171): a
        quantisation or file the reference (or `quant`) selects becomes patterns naming
        exactly its files, added to `include_patterns`, so downloads and their jobs deal in
        patterns only. A selection the model lacks is SelectionNotFound and, with
        `require_choice`, a repo of several quantisations and no selection at all (nor a
        whole copy in the vault) is ChoiceNeeded: both before anything is fetched."""
        parts = self._parts
        references = parts.references
        source, reference = references.with_quant(request.model, request.source, request.quant)
        given = request.include_patterns
        if not reference.selects and not (request.require_choice and given is None):
            return source, reference.model_id, given
        if not reference.selects:
            present = parts.store.get(source, reference.model_id)
            if present is not None and use_cases.recorded_patterns(present) is None:
                return source, reference.model_id, given  # the vault holds every file
        plugin = parts.source(source)
        with about(source, reference.model_id), parts.suggesting(plugin, reference.model_id):
            chosen = select_files(
                plugin.info(reference.model_id),
                None,
                reference,
                require_choice=request.require_choice,
            )
        if not reference.selects:
            return source, reference.model_id, given
        named = [literal_pattern(f.path) for f in chosen]
        return source, reference.model_id, tuple(dict.fromkeys([*(given or ()), *named]))
