"""The store contract: every `ModelStore` (the in-memory fake, the disk vault, and any store
added later) passes each of these. The fake passing them is what lets the core's unit tests
trust it."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devon_core import InvalidInput, LocalModel, StagingArea, StorageSpace
from devon_core.commit_metadata import CommitMetadata
from devon_core.serialization import unstructure
from tests.support.store_contract import HARNESSES, StoreHarness, harness_for, put

T0 = datetime(2025, 2, 12, 14, 30, 0, 123456, tzinfo=UTC)
WIDGET = {"config.json": b"{}", "model.safetensors": b"x" * 1000}


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreHarness]:
    with harness_for(request.param, tmp_path) as harness:
        yield harness


def test_an_unknown_model_is_not_there(harness: StoreHarness) -> None:
    assert harness.store.get("huggingface", "acme/nothing") is None
    assert harness.store.list() == []


def test_a_committed_model_is_listed_with_its_files_size_and_path(
    harness: StoreHarness,
) -> None:
    model = put(harness, "acme/widget-7b", WIDGET, T0, metadata={"format": ["safetensors"]})

    assert model.files == ("config.json", "model.safetensors")
    assert model.size_bytes == 1002
    assert model.path == f"{harness.store.root}/huggingface/acme/widget-7b"
    assert model.downloaded_at == T0
    assert model.last_used is None
    assert model.metadata == {"format": ["safetensors"]}
    assert harness.store.get("huggingface", "acme/widget-7b") == model
    assert harness.store.list() == [model]


def test_only_the_named_files_are_committed(harness: StoreHarness) -> None:
    staging = harness.store.stage("huggingface", "acme/widget-7b")
    harness.write_staged(staging, {**WIDGET, "leftover.bin": b"old"})

    model = harness.store.commit(
        staging, ["model.safetensors", "config.json"], T0, CommitMetadata()
    )

    assert model.files == ("config.json", "model.safetensors")
    assert model.size_bytes == 1002


def test_staging_reports_the_complete_files_an_earlier_attempt_left(
    harness: StoreHarness,
) -> None:
    staging = harness.store.stage("huggingface", "acme/widget-7b")
    harness.write_staged(staging, {"config.json": b"{}"})

    again = harness.store.stage("huggingface", "acme/widget-7b")

    assert again.path == staging.path
    assert again.present_files == {"config.json": 2}
    assert harness.store.get("huggingface", "acme/widget-7b") is None


def test_list_is_sorted_by_source_then_id_whatever_the_commit_order(
    harness: StoreHarness,
) -> None:
    for source, model_id in [("zeta", "b/m"), ("huggingface", "z/m"), ("huggingface", "a/m")]:
        put(harness, model_id, WIDGET, T0, source=source)

    keys = [(m.source, m.model_id) for m in harness.store.list()]

    assert keys == [("huggingface", "a/m"), ("huggingface", "z/m"), ("zeta", "b/m")]
    assert [m.model_id for m in harness.store.list("zeta")] == ["b/m"]


def test_a_new_commit_replaces_the_old_copy(harness: StoreHarness) -> None:
    put(harness, "acme/widget-7b", WIDGET, T0)

    newer = put(harness, "acme/widget-7b", {"model.gguf": b"g" * 10}, T0 + timedelta(days=1))

    assert newer.files == ("model.gguf",)
    assert harness.store.get("huggingface", "acme/widget-7b") == newer
    assert len(harness.store.list()) == 1


def test_remove_returns_the_model_and_forgets_it(harness: StoreHarness) -> None:
    model = put(harness, "acme/widget-7b", WIDGET, T0)

    assert harness.store.remove("huggingface", "acme/widget-7b") == model
    assert harness.store.get("huggingface", "acme/widget-7b") is None
    assert harness.store.remove("huggingface", "acme/widget-7b") is None


def test_mark_used_records_the_time_and_ignores_unknown_models(harness: StoreHarness) -> None:
    put(harness, "acme/widget-7b", WIDGET, T0)
    later = T0 + timedelta(hours=3)

    used = harness.store.mark_used("huggingface", "acme/widget-7b", later)

    assert used is not None
    assert used.last_used == later
    assert harness.store.get("huggingface", "acme/widget-7b") == used
    assert harness.store.mark_used("huggingface", "acme/other", later) is None


def test_status_and_space_add_up_the_committed_models_per_source(
    harness: StoreHarness,
) -> None:
    put(harness, "acme/a", WIDGET, T0)
    put(harness, "acme/b", {"m.gguf": b"g" * 98}, T0)
    put(harness, "x/c", {"m.gguf": b"g" * 10}, T0, source="other")

    status = harness.store.status()

    assert status.model_count == 3
    assert status.total_size_bytes == 1002 + 98 + 10
    assert status.storage_path == harness.store.root
    assert {k: (v.count, v.size_bytes) for k, v in status.sources.items()} == {
        "huggingface": (2, 1100),
        "other": (1, 10),
    }
    assert harness.store.space().used_bytes == 1110


def test_staged_bytes_are_counted_until_the_model_is_committed(
    harness: StoreHarness,
) -> None:
    staging = harness.store.stage("huggingface", "acme/widget-7b")
    harness.write_staged(staging, WIDGET)

    assert harness.store.staging_bytes() == 1002
    assert harness.store.status().staging_bytes == 1002

    harness.store.commit(staging, ["config.json", "model.safetensors"], T0, CommitMetadata())

    assert harness.store.staging_bytes() == 0
    assert harness.store.status().staging_bytes == 0


def test_the_model_lock_is_exclusive_between_threads(harness: StoreHarness) -> None:
    entered = threading.Event()
    release = threading.Event()
    second_in = threading.Event()

    def first() -> None:
        with harness.store.lock("huggingface", "acme/widget-7b"):
            entered.set()
            release.wait(10)

    def second() -> None:
        entered.wait(10)
        with harness.store.lock("huggingface", "acme/widget-7b"):
            second_in.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert entered.wait(10)
    time.sleep(0.2)
    assert not second_in.is_set(), "a second holder entered while the first held the lock"
    release.set()
    for thread in threads:
        thread.join(10)
    assert second_in.is_set()


def test_the_model_lock_is_reentrant_within_a_thread(harness: StoreHarness) -> None:
    with harness.store.lock("huggingface", "acme/widget-7b"):
        model = put(harness, "acme/widget-7b", WIDGET, T0)
    assert model.model_id == "acme/widget-7b"


def test_locks_of_different_models_do_not_block_each_other(harness: StoreHarness) -> None:
    inside = threading.Event()

    def other() -> None:
        with harness.store.lock("huggingface", "acme/other"):
            inside.set()

    with harness.store.lock("huggingface", "acme/widget-7b"):
        thread = threading.Thread(target=other)
        thread.start()
        assert inside.wait(10)
    thread.join(10)


@pytest.mark.parametrize(
    ("present", "clashing"),
    [
        ("acme/Widget-7B", "acme/widget-7b"),
        ("acme", "acme/widget-7b"),
        ("acme/widget-7b", "acme"),
    ],
)
def test_an_id_whose_directory_overlaps_a_present_one_is_refused(
    harness: StoreHarness, present: str, clashing: str
) -> None:
    put(harness, present, WIDGET, T0)

    with pytest.raises(InvalidInput, match="share a directory"):
        put(harness, clashing, WIDGET, T0)

    assert [m.model_id for m in harness.store.list()] == [present]


def test_the_same_id_in_another_source_does_not_clash(harness: StoreHarness) -> None:
    put(harness, "acme/widget-7b", WIDGET, T0)
    put(harness, "acme/widget-7b", WIDGET, T0, source="other")
    assert len(harness.store.list()) == 2


def test_a_commit_carries_over_files_of_the_copy_in_the_vault(harness: StoreHarness) -> None:
    put(harness, "acme/widget-7b", WIDGET, T0)
    staging = harness.store.stage("huggingface", "acme/widget-7b")
    harness.write_staged(staging, {"extra.gguf": b"y" * 10})

    model = harness.store.commit(
        staging,
        ["config.json", "extra.gguf", "model.safetensors"],
        T0 + timedelta(hours=1),
        CommitMetadata(),
        carry_over=["config.json", "model.safetensors"],
    )

    assert model.files == ("config.json", "extra.gguf", "model.safetensors")
    assert model.size_bytes == 1012


def test_a_commit_keeps_last_used(harness: StoreHarness) -> None:
    put(harness, "acme/widget-7b", WIDGET, T0)
    used = T0 + timedelta(minutes=5)
    harness.store.mark_used("huggingface", "acme/widget-7b", used)
    again = put(harness, "acme/widget-7b", WIDGET, T0 + timedelta(hours=1))
    assert again.last_used == used


def test_unstaging_keeps_a_staging_area_that_holds_bytes(harness: StoreHarness) -> None:
    staging = harness.store.stage("huggingface", "acme/widget-7b")
    harness.write_staged(staging, {"config.json": b"{}"})
    harness.store.unstage(staging)
    again = harness.store.stage("huggingface", "acme/widget-7b")
    assert again.present_files == {"config.json": 2}


# The change counter and the JSON listing (ADR 0130, 0132)


def test_every_change_moves_the_change_counter_and_reads_do_not(harness: StoreHarness) -> None:
    store = harness.store
    readings = [store.change_counter()]
    put(harness, "acme/widget-7b", WIDGET, T0)
    readings.append(store.change_counter())
    store.mark_used("huggingface", "acme/widget-7b", T0 + timedelta(days=1))
    readings.append(store.change_counter())
    store.list()
    store.status()
    store.get("huggingface", "acme/widget-7b")
    assert store.change_counter() == readings[-1]
    store.remove("huggingface", "acme/widget-7b")
    readings.append(store.change_counter())
    assert len(set(readings)) == len(readings)


ODD_METADATA = {
    "license": "näive ✓ \u2028",
    "nested": {"z": [1, 2.5, None, True, -0.0, 1e300], "a": 'quote " backslash \\ tab \t'},
    "big": 10**20,
    "revision": None,
}


def test_json_listing_is_what_json_dumps_gives_for_the_unstructured_list(
    harness: StoreHarness,
) -> None:
    put(harness, "acme/widget-7b", WIDGET, T0, metadata=ODD_METADATA)
    put(harness, "bare-legacy-name", WIDGET, T0, metadata={})
    put(harness, "other/model", WIDGET, T0, source="elsewhere", metadata={"b": 1, "a": 2})
    harness.store.mark_used("huggingface", "acme/widget-7b", T0 + timedelta(hours=1))
    for source in (None, "huggingface", "elsewhere", "absent"):
        models = harness.store.list(source)
        assert harness.store.list_json(source) == (
            len(models),
            json.dumps(unstructure(models)),
        )


# Room for downloads in flight (`reserve`): what one download's `check` sees of the others.
# A reservation counts while its download runs (holds the model's lock), as in a job.

TERA = 10**12


class Refused(Exception):
    pass


@contextmanager
def download_in_flight(
    harness: StoreHarness,
    model_id: str,
    adding: int,
    replacing: int = 0,
    then: Callable[[StagingArea], object] = lambda staging: None,
) -> Iterator[StagingArea]:
    """Another thread holding `model_id`'s lock and a reservation for it, having done `then`
    with its staging, until the block ends (what `check` of a second download then sees)."""
    store = harness.store
    held, done = threading.Event(), threading.Event()
    staging = store.stage("huggingface", model_id)

    def run() -> None:
        with store.lock("huggingface", model_id), store.reserve(staging, adding, replacing, _any):
            then(staging)
            held.set()
            done.wait(30)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert held.wait(30)
        yield staging
    finally:
        done.set()
        thread.join(30)


def _any(space: StorageSpace) -> None:
    pass


def seen_by_a_reservation(harness: StoreHarness) -> tuple[StorageSpace, StorageSpace]:
    """What `check` of a new reservation sees, and the store's own `space()` at that time."""
    seen: list[StorageSpace] = []
    live: list[StorageSpace] = []

    def check(space: StorageSpace) -> None:
        seen.append(space)
        live.append(harness.store.space())

    staging = harness.store.stage("huggingface", "acme/newcomer")
    with harness.store.reserve(staging, 5, 0, check):
        pass
    return seen[0], live[0]


def test_a_reservation_with_nothing_else_in_flight_sees_the_stores_space(
    harness: StoreHarness,
) -> None:
    put(harness, "acme/present", WIDGET, T0)
    seen, live = seen_by_a_reservation(harness)
    assert seen.used_bytes == live.used_bytes == 1002
    assert abs(seen.free_bytes - live.free_bytes) < 10**9  # a real disk's free space moves


def test_a_reservation_sees_the_room_another_download_in_flight_still_needs(
    harness: StoreHarness,
) -> None:
    with download_in_flight(harness, "acme/big", TERA, 1000):
        seen, live = seen_by_a_reservation(harness)
    assert seen.used_bytes == live.used_bytes + TERA - 1000
    assert abs((live.free_bytes - seen.free_bytes) - TERA) < 10**9


def test_a_reservation_ends_when_its_block_exits(harness: StoreHarness) -> None:
    with download_in_flight(harness, "acme/big", TERA):
        pass
    seen, live = seen_by_a_reservation(harness)
    assert seen.used_bytes == live.used_bytes
    assert abs(seen.free_bytes - live.free_bytes) < 10**9


def test_a_check_that_raises_refuses_the_reservation_and_holds_nothing(
    harness: StoreHarness,
) -> None:
    def refuse(space: StorageSpace) -> None:
        raise Refused("no room")

    store = harness.store
    staging = store.stage("huggingface", "acme/big")
    with store.lock("huggingface", "acme/big"):
        with pytest.raises(Refused), store.reserve(staging, TERA, 0, refuse):
            pytest.fail("the block ran although the check refused")
        # still holding the lock, as a download does before it gives up
        thread_seen: list[tuple[StorageSpace, StorageSpace]] = []
        thread = threading.Thread(target=lambda: thread_seen.append(seen_by_a_reservation(harness)))
        thread.start()
        thread.join(30)
    seen, live = thread_seen[0]
    assert seen.used_bytes == live.used_bytes


def test_a_committed_download_no_longer_counts_as_in_flight(harness: StoreHarness) -> None:
    def commit(staging: StagingArea) -> LocalModel:
        harness.write_staged(staging, WIDGET)
        return harness.store.commit(staging, list(WIDGET), T0, CommitMetadata())

    with download_in_flight(harness, "acme/widget-7b", 1002, then=commit):
        seen, live = seen_by_a_reservation(harness)

    assert live.used_bytes == 1002
    assert seen.used_bytes == 1002  # counted once, as used


# Unfinished downloads: `staged`, `discard_staging`, `partial_bytes`


def test_nothing_is_staged_in_a_new_vault(harness: StoreHarness) -> None:
    assert harness.store.staged() == []
    assert harness.store.partial_bytes() == 0


def test_staged_lists_each_unfinished_download_sorted_with_the_bytes_it_holds(
    harness: StoreHarness,
) -> None:
    store = harness.store
    for source, model_id, files in [
        ("zeta", "b/m", {"w.gguf": b"z" * 30}),
        ("huggingface", "acme/widget-7b", WIDGET),
        ("huggingface", "bare-legacy-name", {"model.gguf": b"b" * 7}),
    ]:
        harness.write_staged(store.stage(source, model_id), files)
    put(harness, "acme/done", WIDGET, T0)

    assert [(s.key, s.size_bytes, s.arrived_bytes, s.in_use) for s in store.staged()] == [
        ("huggingface/acme/widget-7b", 1002, 1002, False),
        ("huggingface/bare-legacy-name", 7, 7, False),
        ("zeta/b/m", 30, 30, False),
    ]


def test_partial_bytes_count_what_has_arrived_until_the_commit(harness: StoreHarness) -> None:
    store = harness.store
    staging = store.stage("huggingface", "acme/widget-7b")
    harness.write_staged(staging, WIDGET)

    assert store.partial_bytes() == store.status().partial_bytes == 1002
    assert store.partial_bytes() <= store.staging_bytes()

    store.commit(staging, list(WIDGET), T0, CommitMetadata())

    assert store.partial_bytes() == store.status().partial_bytes == 0


def test_a_staging_area_is_in_use_while_a_download_holds_its_lock(
    harness: StoreHarness,
) -> None:
    store = harness.store
    harness.write_staged(store.stage("huggingface", "acme/widget-7b"), WIDGET)

    with download_in_flight(harness, "acme/widget-7b", 1002):
        assert [s.in_use for s in store.staged()] == [True]
    assert [s.in_use for s in store.staged()] == [False]


def test_discarding_staging_frees_its_bytes_and_forgets_it(harness: StoreHarness) -> None:
    store = harness.store
    harness.write_staged(store.stage("huggingface", "acme/widget-7b"), WIDGET)

    assert store.discard_staging("huggingface", "acme/widget-7b") == 1002

    assert store.staged() == []
    assert store.staging_bytes() == 0
    assert store.stage("huggingface", "acme/widget-7b").present_files == {}


def test_discarding_staging_that_is_not_there_frees_nothing(harness: StoreHarness) -> None:
    assert harness.store.discard_staging("huggingface", "acme/nothing") == 0


def test_discarding_staging_a_running_download_holds_is_refused(harness: StoreHarness) -> None:
    store = harness.store
    harness.write_staged(store.stage("huggingface", "acme/widget-7b"), WIDGET)

    with download_in_flight(harness, "acme/widget-7b", 1002):
        assert store.discard_staging("huggingface", "acme/widget-7b") is None

    assert [(s.key, s.size_bytes) for s in store.staged()] == [("huggingface/acme/widget-7b", 1002)]


def test_discarding_one_staging_leaves_the_vault_and_other_downloads_alone(
    harness: StoreHarness,
) -> None:
    store = harness.store
    model = put(harness, "acme/widget-7b", WIDGET, T0)
    harness.write_staged(store.stage("huggingface", "acme/widget-7b"), {"extra.gguf": b"e" * 9})
    harness.write_staged(store.stage("huggingface", "acme/other"), {"m.gguf": b"o" * 4})

    assert store.discard_staging("huggingface", "acme/widget-7b") == 9

    assert store.get("huggingface", "acme/widget-7b") == model
    assert [(s.key, s.size_bytes) for s in store.staged()] == [("huggingface/acme/other", 4)]


# `grouped`: several changes in a row, each visible at once


def test_changes_in_a_group_are_visible_at_once_and_after_it(harness: StoreHarness) -> None:
    store = harness.store
    put(harness, "acme/a", WIDGET, T0)
    with store.grouped():
        put(harness, "acme/b", WIDGET, T0)
        store.remove("huggingface", "acme/a")
        with store.grouped():
            store.mark_used("huggingface", "acme/b", T0 + timedelta(hours=1))
        assert [m.model_id for m in store.list()] == ["acme/b"]
    assert [(m.model_id, m.last_used) for m in store.list()] == [
        ("acme/b", T0 + timedelta(hours=1))
    ]


def test_a_group_that_fails_keeps_the_changes_made_before(harness: StoreHarness) -> None:
    store = harness.store

    def clean_that_fails() -> None:
        with store.grouped():
            put(harness, "acme/a", WIDGET, T0)
            raise Refused("stopped half-way")

    with pytest.raises(Refused):
        clean_that_fails()
    assert [m.model_id for m in store.list()] == ["acme/a"]
    put(harness, "acme/b", WIDGET, T0)  # the store is usable after
    assert len(store.list()) == 2


# `scan`: folders placed in the vault by hand


WEIGHTS = {"config.json": b"{}", "model.gguf": b"GGUF" + b"\0" * 60}


def test_scan_registers_a_folder_placed_under_a_known_source(harness: StoreHarness) -> None:
    store = harness.store
    harness.place_folder("huggingface/acme/placed", WEIGHTS)
    before = store.change_counter()

    result = store.scan({"huggingface"})

    assert result.registered == ("huggingface/acme/placed",)
    assert (result.dropped, result.dry_run) == ((), False)
    model = store.get("huggingface", "acme/placed")
    assert model is not None
    assert model.files == ("config.json", "model.gguf")
    assert model.size_bytes == 66
    assert model.path == f"{store.root}/huggingface/acme/placed"
    assert model.metadata.get("inferred") is True
    assert store.list() == [model]
    assert store.change_counter() != before


def test_scan_registers_a_folder_outside_any_source_as_a_local_model_where_it_is(
    harness: StoreHarness,
) -> None:
    harness.place_folder("my-model", WEIGHTS)

    result = harness.store.scan({"huggingface"})

    assert result.registered == ("local/my-model",)
    model = harness.store.get("local", "my-model")
    assert model is not None
    assert model.path == f"{harness.store.root}/my-model"


def test_scan_skips_a_folder_without_a_model_file(harness: StoreHarness) -> None:
    harness.place_folder("huggingface/acme/notes", {"README.md": b"# notes"})

    result = harness.store.scan({"huggingface"})

    assert result.registered == ()
    assert [Path(skip.path).name for skip in result.skipped] == ["notes"]
    assert harness.store.list() == []


def test_a_dry_run_scan_reports_and_changes_nothing(harness: StoreHarness) -> None:
    store = harness.store
    harness.place_folder("huggingface/acme/placed", WEIGHTS)
    gone = put(harness, "acme/gone", WIDGET, T0)
    harness.delete_folder(gone)
    before = (store.change_counter(), store.list())

    result = store.scan({"huggingface"}, reconcile=True, dry_run=True)

    assert result.registered == ("huggingface/acme/placed",)
    assert result.dropped == ("huggingface/acme/gone",)
    assert result.dry_run
    assert (store.change_counter(), store.list()) == before


def test_scan_leaves_listed_models_alone(harness: StoreHarness) -> None:
    model = put(harness, "acme/widget-7b", WIDGET, T0)

    result = harness.store.scan({"huggingface"}, reconcile=True)

    assert (result.registered, result.dropped) == ((), ())
    assert harness.store.list() == [model]


def test_only_a_reconciling_scan_drops_a_model_whose_folder_is_gone(
    harness: StoreHarness,
) -> None:
    store = harness.store
    gone = put(harness, "acme/gone", WIDGET, T0)
    kept = put(harness, "acme/kept", WIDGET, T0)
    harness.delete_folder(gone)

    assert store.scan({"huggingface"}).dropped == ()
    assert len(store.list()) == 2

    assert store.scan({"huggingface"}, reconcile=True).dropped == ("huggingface/acme/gone",)
    assert store.list() == [kept]
