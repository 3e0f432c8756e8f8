"""The rules of the Hugging Face cache view (devon_core.cache_view), on a fake view: which
model each repo id shows, the snapshot's name, and how the view follows changes."""

import hashlib

import attrs

from devon_core.cache_view import (
    Change,
    LinkKind,
    ViewedRepo,
    ViewSkip,
    ViewSkipReason,
    choose,
    follow,
    link,
    snapshot_name,
    unlink,
)
from devon_core.models import LocalModel
from tests.support.fakes import MemoryStore, local_model

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeView:
    """A view in a dict: repo id -> (model key, snapshot). `foreign` ids hold folders DEVON
    did not make."""

    def __init__(self, foreign: tuple[str, ...] = ()) -> None:
        self.shown: dict[str, tuple[str, str]] = {}
        self.foreign = set(foreign)

    @property
    def location(self) -> str:
        return "/cache"

    @property
    def source_name(self) -> str:
        return "huggingface"

    def made(self) -> list[str]:
        return sorted(self.shown)

    def show(
        self, repo_id: str, model: LocalModel, revision: str, dry_run: bool
    ) -> ViewedRepo | ViewSkip:
        if repo_id in self.foreign:
            return ViewSkip(repo_id, model.key, ViewSkipReason.NOT_MADE_BY_DEVON, "not ours")
        change = Change.CREATED if repo_id not in self.shown else Change.UPDATED
        if not dry_run:
            self.shown[repo_id] = (model.key, revision)
        return ViewedRepo(
            repo_id, model.source, model.model_id, revision, False, 2, 0, LinkKind.HARD, change
        )

    def hide(self, repo_id: str, dry_run: bool) -> bool:
        if repo_id not in self.shown:
            return False
        if not dry_run:
            del self.shown[repo_id]
        return True


def _with_revision(model: LocalModel, revision: str | None) -> LocalModel:
    return attrs.evolve(model, metadata={"revision": revision})


def test_the_snapshot_is_named_by_the_models_commit() -> None:
    model = _with_revision(local_model(), COMMIT)

    assert snapshot_name(model) == (COMMIT, False)


def test_a_model_without_a_commit_gets_a_synthetic_name_stable_for_the_model() -> None:
    model = _with_revision(local_model("mine", source="local"), "v1.0")

    expected = hashlib.sha1(b"devon-view\0local\0mine", usedforsecurity=False).hexdigest()
    assert snapshot_name(model) == (expected, True)
    assert snapshot_name(attrs.evolve(model, files=("other.bin",))) == (expected, True)


def test_the_hub_source_wins_an_id_held_by_two_sources() -> None:
    hub = local_model("acme/x")
    mine = local_model("acme/x", source="local")

    chosen, skipped = choose([mine, hub], "huggingface")

    assert chosen == {"acme/x": hub}
    assert [(s.model, s.reason) for s in skipped] == [
        ("local/acme/x", ViewSkipReason.SAME_ID_IN_ANOTHER_SOURCE)
    ]


def test_link_removes_what_devon_made_for_models_no_longer_held() -> None:
    store = MemoryStore()
    store.add(local_model("acme/kept"))
    view = FakeView()
    view.shown["acme/gone"] = ("huggingface/acme/gone", COMMIT)

    report = link(view, store)

    assert report.removed == ("acme/gone",)
    assert sorted(view.shown) == ["acme/kept"]


def test_a_dry_run_link_changes_nothing() -> None:
    store = MemoryStore()
    store.add(local_model("acme/new"))
    view = FakeView()
    view.shown["acme/gone"] = ("huggingface/acme/gone", COMMIT)

    report = link(view, store, dry_run=True)

    assert [r.repo_id for r in report.linked] == ["acme/new"]
    assert report.removed == ("acme/gone",)
    assert view.shown == {"acme/gone": ("huggingface/acme/gone", COMMIT)}


def test_a_folder_devon_did_not_make_is_reported_not_shown() -> None:
    store = MemoryStore()
    store.add(local_model("acme/theirs"))

    report = link(FakeView(foreign=("acme/theirs",)), store)

    assert [(s.repo_id, s.reason) for s in report.skipped] == [
        ("acme/theirs", ViewSkipReason.NOT_MADE_BY_DEVON)
    ]


def test_following_a_removal_shows_the_same_id_of_another_source() -> None:
    store = MemoryStore()
    store.add(local_model("acme/x", source="local"))
    view = FakeView()
    view.shown["acme/x"] = ("huggingface/acme/x", COMMIT)  # the removed Hub copy

    follow(view, store, [("huggingface", "acme/x")], ["huggingface", "local"])

    assert view.shown["acme/x"][0] == "local/acme/x"


def test_following_a_removal_of_the_last_copy_hides_the_id() -> None:
    view = FakeView()
    view.shown["acme/x"] = ("huggingface/acme/x", COMMIT)

    report = follow(view, MemoryStore(), [("huggingface", "acme/x")], ["huggingface"])

    assert report.removed == ("acme/x",)
    assert view.shown == {}


def test_unlink_hides_every_repo_devon_made() -> None:
    view = FakeView()
    view.shown.update({"a/x": ("huggingface/a/x", COMMIT), "b/y": ("local/b/y", COMMIT)})

    report = unlink(view)

    assert report.removed == ("a/x", "b/y")
    assert view.shown == {}
