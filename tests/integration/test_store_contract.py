"""The store contract: every `ModelStore` (the in-memory fake, the disk vault, and any store
added later) passes each of these. The fake passing them is what lets the core's unit tests
trust it."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devon_core import InvalidInput
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
