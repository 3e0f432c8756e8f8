"""`HuggingFaceCache`: the Hugging Face cache beside the vault: adopting its models, and
showing the vault's models in it (ADR 0221)."""

import logging
from collections.abc import Callable, Sequence

from devon_core import adoption, cache_view
from devon_core.adoption import AdoptReport
from devon_core.cache_view import CacheView, ViewReport
from devon_core.errors import InvalidInput
from devon_core.facade.parts import FacadeParts
from devon_core.identifiers import LOCAL_SOURCE
from devon_core.ports import ModelCache, ObservableStore, SourcedCache

log = logging.getLogger("devon_core.devon")


class HuggingFaceCache:
    """`devon.hf_cache`: adopt the cache's models, link the vault's models into it, and keep
    a view of the vault current (`keep_view`)."""

    def __init__(
        self,
        parts: FacadeParts,
        open_cache: Callable[[str | None], ModelCache] | None,
        cache_source: str | None,
        open_view: Callable[[str | None], CacheView] | None,
        keep_view: bool,
    ) -> None:
        self._parts = parts
        self.open_cache = open_cache
        """Opens the Hugging Face cache at a directory (None: the configured one)."""
        self.cache_source = cache_source
        """The source the cache's models are adopted under (default: the default source)."""
        self.open_view = open_view
        """Opens a Hugging Face cache view at a directory (None: the configured cache)."""
        self.kept_view: CacheView | None = None
        """The view kept current after every change of the vault (`keep_view`), if any."""
        if keep_view and open_view is not None:
            self.kept_view = open_view(None)
            if isinstance(parts.store, ObservableStore):
                parts.store.observe(self._follow)

    def adopt(
        self,
        model_ids: Sequence[str] | None = None,
        *,
        cache: str | None = None,
        move: bool = False,
        dry_run: bool = False,
    ) -> AdoptReport:
        """Bring models already in the Hugging Face cache into the vault without downloading
        them: all of its model repos, or only `model_ids`. `cache` is its directory (default:
        the configured one, DEVON_HF_CACHE, else where huggingface_hub keeps it). The cache
        keeps its files (hard links) unless `move`. Works with the Hub unreachable."""
        if self.open_cache is None:
            raise InvalidInput("This DEVON has no Hugging Face cache reader configured")
        parts = self._parts
        opened = self.open_cache(cache)
        name = self.cache_source or (
            opened.source_name if isinstance(opened, SourcedCache) else parts.references.named(None)
        )
        return adoption.adopt(
            opened,
            parts.store,
            parts.clock,
            parts.sources.get(name),
            name,
            model_ids,
            move=move,
            dry_run=dry_run,
            valid_id=lambda text: parts.references.plain_id(text, name),
        )

    def link(self, cache: str | None = None, *, dry_run: bool = False) -> ViewReport:
        """Make the Hugging Face cache at `cache` (default: the configured one) show every
        model of the vault, as hard links to the vault's files (symbolic links across
        filesystems), and remove what DEVON made there for models no longer held. Folders
        DEVON did not make are never touched (ADR 0221)."""
        return cache_view.link(self._view(cache), self._parts.store, dry_run)

    def unlink(self, cache: str | None = None, *, dry_run: bool = False) -> ViewReport:
        """Remove from the cache everything `link` made there, and nothing else."""
        return cache_view.unlink(self._view(cache), dry_run)

    def _view(self, cache: str | None) -> CacheView:
        if self.open_view is None:
            raise InvalidInput("This DEVON has no Hugging Face cache view configured")
        return self.open_view(cache)

    def _follow(self, source: str, model_id: str) -> None:
        self.follow([(source, model_id)])

    def follow(self, changed: Sequence[tuple[str, str]]) -> None:
        """Bring the kept view up to date with models that changed; a view that cannot be
        written is logged, never the vault operation's failure."""
        if self.kept_view is None or not changed:
            return
        try:
            sources = {*self._parts.known_sources, LOCAL_SOURCE}  # `local` is built in
            report = cache_view.follow(self.kept_view, self._parts.store, changed, sources)
        except Exception:
            log.exception("Could not update the Hugging Face cache view")
            return
        for skip in report.skipped:
            log.warning("Hugging Face cache view: %s not shown: %s", skip.repo_id, skip.detail)

    def relink(self) -> None:
        """The whole kept view again, after a change of many models at once."""
        if self.kept_view is None:
            return
        try:
            cache_view.link(self.kept_view, self._parts.store)
        except Exception:
            log.exception("Could not update the Hugging Face cache view")
