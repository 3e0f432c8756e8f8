"""`DownloadRequest` and the facade methods that build one."""

import attrs
import pytest

from devon_core import Devon
from devon_core.download_request import DownloadRequest
from tests.support.fakes import FakeSource


def test_include_patterns_given_as_a_list_are_kept_as_a_tuple() -> None:
    request = DownloadRequest("acme/widget-7b", include_patterns=["*.json"])
    assert request.include_patterns == ("*.json",)


def test_a_download_request_is_a_value() -> None:
    request = DownloadRequest("acme/widget-7b", force=True)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        request.force = False  # type: ignore[misc]
    assert request == DownloadRequest("acme/widget-7b", force=True)


def test_building_a_request_checks_nothing() -> None:
    assert DownloadRequest("not a valid id at all://").model == "not a valid id at all://"


def test_the_flat_download_and_the_grouped_one_fetch_the_same(
    devon: Devon, source: FakeSource
) -> None:
    flat = devon.download("acme/widget-7b", include_patterns=["*.json"])
    grouped = devon.downloads.fetch(DownloadRequest("acme/widget-7b", include_patterns=["*.json"]))
    assert grouped.transferred is False
    assert grouped.model.files == flat.files
