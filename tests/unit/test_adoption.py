"""The rules of adopting from a model cache, on fakes of the ports."""

import pytest

from devon_core import Devon, InvalidInput, SourceUnavailable
from devon_core.adoption import SkipReason, choose_snapshot, hash_kind
from devon_core.cached import CachedRepo, HashKind
from devon_core.commit_metadata import CommitMetadata
from tests.support.fakes import (
    SHA1_B,
    SHA256_A,
    FakeCache,
    FakeSource,
    MemoryStore,
    SettableClock,
    cached_repo,
    cached_snapshot,
    remote_model,
)

OLD, NEW, MAIN = "1" * 40, "2" * 40, "3" * 40


def devon_on(cache: FakeCache, source: FakeSource | None = None) -> Devon:
    store = MemoryStore(disk=cache.disk)
    return Devon(
        source=source or FakeSource([]),
        store=store,
        clock=SettableClock(),
        open_cache=lambda location: cache,
    )


def test_blob_names_say_which_hash_to_check() -> None:
    assert hash_kind(SHA256_A) is HashKind.SHA256
    assert hash_kind(SHA1_B) is HashKind.GIT_SHA1
    assert hash_kind("not-a-hash") is None


def test_the_snapshot_main_names_is_taken_over_a_newer_one() -> None:
    repo = cached_repo(
        "acme/x", cached_snapshot(MAIN, modified=1), cached_snapshot(NEW, modified=9), main=MAIN
    )
    assert getattr(choose_snapshot(repo), "revision", None) == MAIN


def test_without_main_the_newest_snapshot_is_taken() -> None:
    repo = cached_repo("acme/x", cached_snapshot(OLD, modified=1), cached_snapshot(NEW, modified=9))
    assert getattr(choose_snapshot(repo), "revision", None) == NEW


def test_a_broken_main_snapshot_falls_back_to_the_newest_complete_one() -> None:
    broken = cached_snapshot(MAIN, modified=9, broken=["model.safetensors"])
    repo = cached_repo("acme/x", broken, cached_snapshot(OLD, modified=1), main=MAIN)
    assert getattr(choose_snapshot(repo), "revision", None) == OLD


def test_an_unfinished_download_counts_against_the_snapshot_main_names() -> None:
    repo = cached_repo(
        "acme/x",
        cached_snapshot(MAIN, modified=9),
        cached_snapshot(OLD, modified=1),
        main=MAIN,
        unfinished=1,
    )
    assert getattr(choose_snapshot(repo), "revision", None) == OLD


def test_a_repo_with_no_complete_snapshot_is_skipped_as_incomplete() -> None:
    repo = cached_repo("acme/x", cached_snapshot(MAIN, broken=["config.json"]), main=MAIN)
    chosen = choose_snapshot(repo)
    assert getattr(chosen, "reason", None) is SkipReason.INCOMPLETE
    assert "config.json" in getattr(chosen, "detail", "")


def test_each_file_is_hashed_the_way_its_blob_name_says() -> None:
    cache = FakeCache([cached_repo("acme/x")])

    devon_on(cache).adopt()

    assert sorted(cache.hashed) == [
        ("acme/x", "config.json", HashKind.GIT_SHA1),
        ("acme/x", "model.safetensors", HashKind.SHA256),
    ]


def test_a_file_whose_content_differs_from_its_blob_name_skips_the_repo() -> None:
    cache = FakeCache([cached_repo("acme/x"), cached_repo("acme/y")])
    cache.corrupt.add(("acme/x", "model.safetensors"))
    devon = devon_on(cache)

    report = devon.adopt()

    assert [(s.repo, s.reason) for s in report.skipped] == [("acme/x", SkipReason.HASH_MISMATCH)]
    assert [m.model_id for m in devon.list()] == ["acme/y"]


def test_a_file_not_linked_to_a_hash_named_blob_cannot_be_verified_and_is_skipped() -> None:
    snapshot = cached_snapshot(OLD, [("config.json", None, 10)])
    cache = FakeCache([cached_repo("acme/x", snapshot)])

    report = devon_on(cache).adopt()

    assert [s.reason for s in report.skipped] == [SkipReason.UNVERIFIABLE]


def test_datasets_spaces_and_invalid_ids_are_skipped_with_their_reason() -> None:
    cache = FakeCache(
        [
            cached_repo("acme/data", kind="dataset"),
            cached_repo("acme/app", kind="space"),
            CachedRepo("model", "acme/bad..id", "models--acme--bad..id", (cached_snapshot(),)),
        ]
    )

    report = devon_on(cache).adopt()

    assert {(s.repo, s.reason) for s in report.skipped} == {
        ("acme/data", SkipReason.NOT_A_MODEL),
        ("acme/app", SkipReason.NOT_A_MODEL),
        ("models--acme--bad..id", SkipReason.INVALID_ID),
    }
    assert report.adopted == ()


def test_a_model_already_in_the_vault_is_reported_and_left_alone() -> None:
    cache = FakeCache([cached_repo("acme/x")])
    devon = devon_on(cache)
    kept = devon.store.commit(
        devon.store.stage("huggingface", "acme/x"), [], devon.clock.now(), CommitMetadata()
    )

    report = devon.adopt()

    assert report.already_present == ("acme/x",)
    assert devon.get("acme/x") == kept


def test_adopted_model_records_size_files_and_revision() -> None:
    cache = FakeCache([cached_repo("acme/x", cached_snapshot(OLD))])
    devon = devon_on(cache)

    model = devon.adopt().adopted[0]

    assert (model.revision, model.size_bytes, model.files) == (
        OLD,
        1000,
        ("config.json", "model.safetensors"),
    )
    stored = devon.get("acme/x")
    assert stored is not None
    assert stored.metadata["revision"] == OLD
    assert stored.size_bytes == 1000


def test_the_source_describes_models_it_knows() -> None:
    cache = FakeCache([cached_repo("acme/x")])
    source = FakeSource([remote_model("acme/x", parameter_count=8.0, license="mit")])
    devon = devon_on(cache, source)

    devon.adopt()

    stored = devon.get("acme/x")
    assert stored is not None
    assert stored.metadata["metadata_from"] == "huggingface"
    assert (stored.metadata["parameter_count"], stored.metadata["license"]) == (8.0, "mit")


def test_models_the_source_does_not_know_are_described_from_their_files() -> None:
    cache = FakeCache([cached_repo("acme/x")])
    devon = devon_on(cache, FakeSource([]))

    devon.adopt()

    stored = devon.get("acme/x")
    assert stored is not None
    assert stored.metadata["metadata_from"] == "cache"
    assert stored.metadata["architecture"] == "from-files"


class _Unreachable(FakeSource):
    def __init__(self) -> None:
        super().__init__([])
        self.asked = 0

    def info(self, model_id: str) -> object:  # type: ignore[override]
        self.asked += 1
        raise SourceUnavailable("hub down")


def test_an_unreachable_source_is_asked_once_per_run() -> None:
    cache = FakeCache([cached_repo("acme/x"), cached_repo("acme/y")])
    source = _Unreachable()

    report = devon_on(cache, source).adopt()

    assert len(report.adopted) == 2
    assert source.asked == 1


def test_dry_run_adopts_nothing_and_asks_no_source() -> None:
    cache = FakeCache([cached_repo("acme/x")])
    source = _Unreachable()
    devon = devon_on(cache, source)

    report = devon.adopt(dry_run=True)

    assert [m.model_id for m in report.adopted] == ["acme/x"]
    assert report.adopted[0].path is None
    assert devon.list() == []
    assert source.asked == 0


def test_move_releases_only_what_was_committed() -> None:
    cache = FakeCache([cached_repo("acme/x", cached_snapshot(OLD)), cached_repo("acme/y")])
    cache.corrupt.add(("acme/y", "config.json"))

    devon_on(cache).adopt(move=True)

    assert cache.released == [("acme/x", OLD)]


def test_named_models_missing_from_the_cache_are_reported() -> None:
    cache = FakeCache([cached_repo("acme/x")])

    report = devon_on(cache).adopt(["acme/x", "acme/gone"])

    assert [m.model_id for m in report.adopted] == ["acme/x"]
    assert [(s.repo, s.reason) for s in report.skipped] == [("acme/gone", SkipReason.NOT_IN_CACHE)]


def test_one_model_id_given_as_a_plain_string_adopts_that_model() -> None:
    cache = FakeCache([cached_repo("acme/x"), cached_repo("acme/y")])

    report = devon_on(cache).adopt("acme/x")

    assert [m.model_id for m in report.adopted] == ["acme/x"]
    assert report.skipped == ()


def test_an_invalid_named_model_id_is_refused_before_any_work() -> None:
    cache = FakeCache([cached_repo("acme/x")])
    with pytest.raises(InvalidInput):
        devon_on(cache).adopt(["bad..id"])
    assert cache.hashed == []


def test_a_vault_without_a_cache_reader_refuses_adoption_clearly() -> None:
    devon = Devon(store=MemoryStore(), clock=SettableClock())
    with pytest.raises(InvalidInput, match="cache"):
        devon.adopt()


def test_adopted_bytes_sum_the_adopted_models() -> None:
    cache = FakeCache([cached_repo("acme/x"), cached_repo("acme/y")])
    assert devon_on(cache).adopt().adopted_bytes == 2000


def test_a_model_that_would_exceed_the_quota_is_skipped_and_not_listed() -> None:
    cache = FakeCache([cached_repo("acme/x"), cached_repo("acme/y")])
    devon = devon_on(cache)
    devon.store.quota_bytes = 1500  # type: ignore[attr-defined]

    report = devon.adopt()

    assert [m.model_id for m in report.adopted] == ["acme/x"]
    assert [(s.repo, s.reason) for s in report.skipped] == [("acme/y", SkipReason.FAILED)]
    assert "quota" in report.skipped[0].detail
    assert [m.model_id for m in devon.list()] == ["acme/x"]


def test_a_dry_run_counts_what_it_would_adopt_against_the_quota() -> None:
    cache = FakeCache([cached_repo("acme/x"), cached_repo("acme/y")])
    devon = devon_on(cache)
    devon.store.quota_bytes = 1500  # type: ignore[attr-defined]

    report = devon.adopt(dry_run=True)

    assert [m.model_id for m in report.adopted] == ["acme/x"]
    assert [s.repo for s in report.skipped] == ["acme/y"]
