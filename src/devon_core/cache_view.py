"""A Hugging Face cache view of the vault: which models it shows, under which snapshot, and
how it follows the vault (ADR 0221). Pure: the cache is written by a `CacheView` adapter.

The rules (docs/hf-cache.md):
- Every model of the vault appears under its model id. When two sources hold the same id,
  the cache's own source (`CacheView.source_name`, the Hub's) wins, else the first source
  by name; the others are reported as skipped.
- The snapshot is named by the model's recorded revision when it is a commit (40 hex);
  otherwise by a synthetic name, stable for the model: the sha1 of
  `devon-view\\0<source>\\0<model_id>`.
- The view is kept current from the vault's changes: a model committed or removed is shown
  or hidden again (with the id's other sources considered), a scan follows what it
  registered and dropped.
"""

import enum
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from devon_core.errors import DevonError
from devon_core.models import LocalModel
from devon_core.ports import ModelStore

_COMMIT = re.compile(r"[0-9a-f]{40}")


class LinkKind(enum.StrEnum):
    HARD = "hardlink"
    SYMBOLIC = "symlink"
    MIXED = "mixed"


class Change(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class ViewSkipReason(enum.StrEnum):
    NOT_MADE_BY_DEVON = "not_made_by_devon"
    SAME_ID_IN_ANOTHER_SOURCE = "same_id_in_another_source"
    FAILED = "failed"


@attrs.frozen
class ViewedRepo:
    """A repo of the view as it is (on a dry run: as it would be)."""

    repo_id: str
    source: str
    model_id: str
    revision: str
    """The snapshot's name: the model's commit, or its synthetic name."""
    synthetic: bool
    files: int
    size_bytes: int
    links: LinkKind
    change: Change


@attrs.frozen
class ViewSkip:
    repo_id: str
    model: str | None
    """`<source>/<model_id>` of the model that was not shown, when there is one."""
    reason: ViewSkipReason
    detail: str


@attrs.frozen
class ViewReport:
    cache: str
    dry_run: bool
    linked: tuple[ViewedRepo, ...] = ()
    removed: tuple[str, ...] = ()
    """Repo ids whose DEVON-made folder was (or would be) removed from the cache."""
    skipped: tuple[ViewSkip, ...] = ()


@runtime_checkable
class CacheView(Protocol):
    """A model cache laid out as huggingface_hub's, written by DEVON."""

    @property
    def location(self) -> str: ...

    @property
    def source_name(self) -> str:
        """The source whose model ids the cache's repos are."""
        ...

    def made(self) -> list[str]:
        """The repo ids whose folders DEVON made in this cache for this vault."""
        ...

    def show(
        self, repo_id: str, model: LocalModel, revision: str, dry_run: bool
    ) -> ViewedRepo | ViewSkip:
        """Make the repo's folder show `model`'s files under snapshot `revision` (or say
        what would change); a folder DEVON did not make is left alone and skipped."""
        ...

    def hide(self, repo_id: str, dry_run: bool) -> bool:
        """Remove what DEVON made for the repo; whether there was anything."""
        ...


def snapshot_name(model: LocalModel) -> tuple[str, bool]:
    """(snapshot name, whether it is synthetic) of a model in the view."""
    revision = model.metadata.get("revision")
    if isinstance(revision, str) and _COMMIT.fullmatch(revision):
        return revision, False
    seed = f"devon-view\0{model.source}\0{model.model_id}".encode()
    return hashlib.sha1(seed, usedforsecurity=False).hexdigest(), True


def choose(
    models: Iterable[LocalModel], preferred_source: str
) -> tuple[dict[str, LocalModel], list[ViewSkip]]:
    """The model each repo id shows, and the models left out for sharing an id."""
    by_id: dict[str, list[LocalModel]] = {}
    for model in models:
        by_id.setdefault(model.model_id, []).append(model)
    chosen: dict[str, LocalModel] = {}
    skipped: list[ViewSkip] = []
    for repo_id, candidates in sorted(by_id.items()):
        ranked = sorted(candidates, key=lambda m: (m.source != preferred_source, m.source))
        chosen[repo_id] = ranked[0]
        skipped.extend(
            ViewSkip(
                repo_id,
                other.key,
                ViewSkipReason.SAME_ID_IN_ANOTHER_SOURCE,
                f"{repo_id} shows {ranked[0].key}",
            )
            for other in ranked[1:]
        )
    return chosen, skipped


def link(view: CacheView, store: ModelStore, dry_run: bool = False) -> ViewReport:
    """Make the whole view match the vault: every model shown, and the folders DEVON made
    for models no longer in the vault removed."""
    chosen, skipped = choose(store.list(), view.source_name)
    linked, shown_skips = _show_all(view, chosen, dry_run)
    removed = tuple(sorted(r for r in set(view.made()) - set(chosen) if view.hide(r, dry_run)))
    return ViewReport(
        view.location,
        dry_run,
        linked,
        removed,
        tuple(sorted([*skipped, *shown_skips], key=lambda s: (s.repo_id, s.model or ""))),
    )


def unlink(view: CacheView, dry_run: bool = False) -> ViewReport:
    """Remove every folder DEVON made in the cache; nothing else is touched."""
    removed = tuple(sorted(r for r in view.made() if view.hide(r, dry_run)))
    return ViewReport(view.location, dry_run, removed=removed)


def follow(
    view: CacheView,
    store: ModelStore,
    changed: Iterable[tuple[str, str]],
    source_names: Iterable[str],
) -> ViewReport:
    """Show again (or hide) the repo ids of the `(source, model_id)` pairs that changed,
    considering each id under `source_names` and the changed pairs' own sources."""
    pairs = list(changed)
    sources = sorted({*source_names, *(s for s, _ in pairs)})
    linked: list[ViewedRepo] = []
    removed: list[str] = []
    skipped: list[ViewSkip] = []
    for repo_id in sorted({m for _, m in pairs}):
        present = [m for s in sources if (m := store.get(s, repo_id)) is not None]
        if not present:
            if view.hide(repo_id, False):
                removed.append(repo_id)
            continue
        chosen, clashes = choose(present, view.source_name)
        shown, failed = _show_all(view, chosen, False)
        linked.extend(shown)
        skipped.extend([*clashes, *failed])
    return ViewReport(view.location, False, tuple(linked), tuple(removed), tuple(skipped))


def changed_keys(keys: Sequence[str]) -> list[tuple[str, str]]:
    """`<source>/<model_id>` keys (as a scan reports them) as pairs."""
    return [(k.partition("/")[0], k.partition("/")[2]) for k in keys]


def _show_all(
    view: CacheView, chosen: Mapping[str, LocalModel], dry_run: bool
) -> tuple[tuple[ViewedRepo, ...], list[ViewSkip]]:
    linked: list[ViewedRepo] = []
    skipped: list[ViewSkip] = []
    for repo_id, model in sorted(chosen.items()):
        revision, _ = snapshot_name(model)
        try:
            outcome = view.show(repo_id, model, revision, dry_run)
        except DevonError as error:
            outcome = ViewSkip(repo_id, model.key, ViewSkipReason.FAILED, str(error))
        if isinstance(outcome, ViewSkip):
            skipped.append(outcome)
        else:
            linked.append(outcome)
    return tuple(linked), skipped
