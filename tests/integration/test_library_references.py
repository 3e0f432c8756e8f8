"""The library (`build_devon`) with references, on a real vault and the test hub."""

from pathlib import Path

import pytest

from devon_app import Settings, build_devon
from devon_core import Devon, NotFound
from devon_core.errors import ChoiceNeeded
from devon_testhub import TestHub
from tests.support.hf_helpers import TINY, WIDGET


@pytest.fixture
def devon(tmp_path: Path, test_hub: TestHub) -> Devon:
    return build_devon(Settings(storage_path=tmp_path / "vault", hf_endpoint=test_hub.url))


def test_download_takes_a_quantisation_tag(devon: Devon) -> None:
    assert devon.download(f"{WIDGET}:Q8_0").files == ("widget-8b.Q8_0.gguf",)


def test_download_takes_a_hub_file_url(devon: Devon) -> None:
    url = f"https://huggingface.co/{WIDGET}/blob/main/widget-8b.Q2_K.gguf"
    assert devon.download(url).files == ("widget-8b.Q2_K.gguf",)


def test_download_asked_to_require_a_choice_refuses_with_the_quantisations(
    devon: Devon,
) -> None:
    with pytest.raises(ChoiceNeeded) as refused:
        devon.download(WIDGET, require_choice=True)
    assert [q.name for q in refused.value.quantizations][:2] == ["IQ2_XS", "Q2_K"]
    assert devon.list() == []


def test_remove_and_info_take_the_id_as_clean_reports_it(devon: Devon) -> None:
    devon.download(TINY)
    (key,) = devon.clean(all=True, dry_run=True).models
    assert devon.info(key).local is not None
    assert devon.remove(key).deleted


def test_a_mistyped_id_is_not_found_with_the_near_one(devon: Devon) -> None:
    with pytest.raises(NotFound, match=r"did you mean tinyco/Tiny-0\.5B-Instruct\?"):
        devon.info("tinyco/tiny-0.5B-instruct")


def test_kitt_export_content_is_the_text(devon: Devon) -> None:
    model = devon.download(TINY)
    assert devon.export("kitt").content == f"{model.path}\n"
