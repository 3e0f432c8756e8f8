"""The built-in `local` source and `scan`, as the core sees them (the disk side is in
tests/integration/test_scan.py)."""

import pytest

from devon_core import Devon, InvalidInput, NotFound, ScanResult, ScanSkip
from tests.support.fakes import MemoryStore, local_model


def test_scan_asks_the_store_with_every_plugin_source_and_local(
    store: MemoryStore, devon: Devon
) -> None:
    store.scan_result = ScanResult(registered=("local/mine",), skipped=(ScanSkip("/v/x", "why"),))

    result = devon.scan(reconcile=True)

    assert result == store.scan_result
    assert store.scans == [(frozenset({"huggingface", "local"}), True)]


def test_local_models_are_listed_by_source_even_with_no_plugin_for_it(
    store: MemoryStore, devon: Devon
) -> None:
    store.add(local_model("mine", source="local"))
    assert [m.key for m in devon.list(source="local")] == ["local/mine"]


def test_an_empty_local_source_lists_nothing(devon: Devon) -> None:
    assert devon.list(source="local") == []


def test_removing_a_missing_local_model_is_not_found_not_an_unknown_source(
    devon: Devon,
) -> None:
    with pytest.raises(NotFound, match="local/mine is not in the vault"):
        devon.remove("mine", source="local")


def test_info_of_a_local_model_is_its_vault_entry_marked_used(
    store: MemoryStore, devon: Devon
) -> None:
    store.add(local_model("mine", source="local"))

    info = devon.info("mine", source="local")

    assert info.remote is None
    assert info.local is not None
    assert info.local.last_used is not None


def test_info_of_a_missing_local_model_is_not_found(devon: Devon) -> None:
    with pytest.raises(NotFound, match="local/ghost is not in the vault"):
        devon.info("ghost", source="local")


def test_downloading_from_local_is_refused_with_what_local_is(devon: Devon) -> None:
    with pytest.raises(InvalidInput, match="placed in the vault by hand"):
        devon.download("anything", source="local")


def test_clean_groups_its_removals_for_the_store(store: MemoryStore, devon: Devon) -> None:
    store.add(local_model("a/one"))
    store.add(local_model("a/two"))

    devon.clean(all=True)

    assert store.groups == 1
    assert store.list() == []


def test_scan_passes_move_and_dry_run_to_the_store(store: MemoryStore, devon: Devon) -> None:
    devon.scan()
    devon.scan(move=True, dry_run=True)

    assert store.scan_options == [
        {"move": False, "dry_run": False},
        {"move": True, "dry_run": True},
    ]


def test_clean_all_keeps_local_models_and_names_them_in_the_result(
    store: MemoryStore, devon: Devon
) -> None:
    store.add(local_model("mine", source="local"))
    store.add(local_model("acme/widget-7b"))

    result = devon.clean(all=True)

    assert result.models == ("huggingface/acme/widget-7b",)
    assert result.skipped_local == ("local/mine",)
    assert [m.key for m in store.list()] == ["local/mine"]


def test_clean_naming_the_local_source_removes_its_models(store: MemoryStore, devon: Devon) -> None:
    store.add(local_model("mine", source="local"))
    store.add(local_model("acme/widget-7b"))

    result = devon.clean(all=True, source="local")

    assert result.models == ("local/mine",)
    assert [m.key for m in store.list()] == ["huggingface/acme/widget-7b"]


def test_clean_with_an_invalid_source_name_is_refused(devon: Devon) -> None:
    with pytest.raises(InvalidInput):
        devon.clean(all=True, source="Not A Source")
