import pytest

from devon_core import Devon, Forbidden, NotFound, SourceUnavailable
from tests.support.fakes import T0, FakeSource, SettableClock


def test_info_of_a_remote_only_model_has_no_local_part(devon: Devon) -> None:
    info = devon.info("acme/widget-7b")
    assert info.local is None
    assert info.remote is not None
    assert info.remote.model_id == "acme/widget-7b"


def test_info_of_a_downloaded_model_has_both_parts_and_marks_it_used(
    devon: Devon, clock: SettableClock
) -> None:
    devon.download("acme/widget-7b")
    clock.advance(days=2)
    info = devon.info("acme/widget-7b")
    assert info.local is not None
    assert info.local.last_used == clock.now()
    assert info.remote is not None


def test_info_of_a_model_gone_from_the_source_still_shows_the_local_copy(
    devon: Devon, source: FakeSource
) -> None:
    devon.download("acme/widget-7b")
    del source.catalogue["acme/widget-7b"]
    info = devon.info("acme/widget-7b")
    assert info.remote is None
    assert info.local is not None


def test_info_works_offline_for_a_model_in_the_vault(devon: Devon, source: FakeSource) -> None:
    devon.download("acme/widget-7b")
    source.info_error = SourceUnavailable("hub unreachable")
    assert devon.info("acme/widget-7b").local is not None


def test_info_of_an_unknown_model_is_not_found(devon: Devon) -> None:
    with pytest.raises(NotFound, match="neither in the vault nor on huggingface"):
        devon.info("nobody/nothing")


def test_info_when_the_source_is_down_and_the_vault_lacks_the_model_is_unavailable(
    devon: Devon, source: FakeSource
) -> None:
    source.info_error = SourceUnavailable("hub unreachable")
    with pytest.raises(SourceUnavailable):
        devon.info("acme/widget-7b")


def test_info_of_a_gated_model_not_in_the_vault_is_forbidden(
    devon: Devon, source: FakeSource
) -> None:
    source.info_error = Forbidden("gated: set HF_TOKEN")
    with pytest.raises(Forbidden):
        devon.info("acme/widget-7b")


def test_get_does_not_touch_last_used(devon: Devon, clock: SettableClock) -> None:
    devon.download("acme/widget-7b")
    clock.advance(days=1)
    model = devon.get("acme/widget-7b")
    assert model is not None
    assert model.last_used is None
    assert model.downloaded_at == T0
