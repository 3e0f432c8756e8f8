"""Errors about one model say which, as attributes a library user can read."""

import pytest

from devon_core import Devon, DownloadFailed, InsufficientStorage, InvalidInput, NotFound
from tests.support.fakes import FakeSource, MemoryStore


def test_a_model_missing_everywhere_names_the_model_and_source(devon: Devon) -> None:
    with pytest.raises(NotFound) as raised:
        devon.info("acme/nothing-here")
    assert (raised.value.source, raised.value.model_id) == ("huggingface", "acme/nothing-here")


def test_a_failed_download_names_the_model_and_source(devon: Devon, source: FakeSource) -> None:
    source.fail_download = True
    with pytest.raises(DownloadFailed) as raised:
        devon.download("acme/widget-7b")
    assert (raised.value.source, raised.value.model_id) == ("huggingface", "acme/widget-7b")


def test_a_download_that_does_not_fit_names_the_model(devon: Devon, store: MemoryStore) -> None:
    store.free_bytes = 10
    with pytest.raises(InsufficientStorage) as raised:
        devon.download("acme/widget-7b")
    assert raised.value.model_id == "acme/widget-7b"


def test_removing_a_model_not_in_the_vault_names_it(devon: Devon) -> None:
    with pytest.raises(NotFound) as raised:
        devon.remove("acme/widget-7b")
    assert (raised.value.source, raised.value.model_id) == ("huggingface", "acme/widget-7b")


def test_an_invalid_id_is_reported_with_what_was_given(devon: Devon) -> None:
    with pytest.raises(InvalidInput) as raised:
        devon.get("../etc")
    assert raised.value.model_id == "../etc"


def test_an_error_about_no_model_carries_none() -> None:
    assert InvalidInput("bad limit").model_id is None
