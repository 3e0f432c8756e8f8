"""A download of a model already in the vault adds the files its patterns name."""

from datetime import timedelta

import pytest

from devon_core import Devon, DownloadFailed, Forbidden
from tests.support.fakes import T0, FakeSource, MemoryStore, SettableClock

GGUF = "acme/Widget-8B-GGUF"
Q4, Q8, README = "widget-8b.Q4_K_M.gguf", "widget-8b.Q8_0.gguf", "README.md"


def test_other_patterns_fetch_only_the_files_the_vault_lacks_and_keep_the_others(
    devon: Devon, source: FakeSource
) -> None:
    devon.download(GGUF, include_patterns=["*Q4_K_M*"])
    model = devon.download(GGUF, include_patterns=["*Q8_0*"])
    assert model.files == (Q4, Q8)
    assert model.size_bytes == 12000
    assert source.downloads[-1] == (GGUF, (Q8,))
    assert model.metadata["include_patterns"] == ["*Q4_K_M*", "*Q8_0*"]
    assert model.metadata["quantization"] == "Q4_K_M,Q8_0"


def test_patterns_naming_only_files_held_fetch_nothing(devon: Devon, source: FakeSource) -> None:
    devon.download(GGUF, include_patterns=["*Q4_K_M*", "*Q8_0*"])
    model = devon.download(GGUF, include_patterns=["*Q8*"])
    assert len(source.downloads) == 1
    assert model.files == (Q4, Q8)


def test_no_patterns_after_some_fetches_the_rest(devon: Devon, source: FakeSource) -> None:
    devon.download(GGUF, include_patterns=["*Q4_K_M*"])
    model = devon.download(GGUF)
    assert source.downloads[-1] == (GGUF, (Q8, README))
    assert model.files == (README, Q4, Q8)
    assert model.metadata["include_patterns"] is None


def test_force_fetches_again_only_what_it_names_and_deletes_nothing(
    devon: Devon, source: FakeSource, clock: SettableClock
) -> None:
    devon.download(GGUF, include_patterns=["*Q4_K_M*", "*Q8_0*"])
    clock.advance(minutes=1)
    model = devon.download(GGUF, include_patterns=["*Q8_0*"], force=True)
    assert source.downloads[-1] == (GGUF, (Q8,))
    assert model.files == (Q4, Q8)


def test_adding_files_is_a_use_at_the_time_they_arrive(
    devon: Devon, store: MemoryStore, clock: SettableClock
) -> None:
    devon.download(GGUF, include_patterns=["*Q4_K_M*"])
    clock.advance(hours=1)
    devon.info(GGUF)
    clock.advance(hours=1)
    model = devon.download(GGUF, include_patterns=["*Q8_0*"])
    assert model.last_used == T0 + timedelta(hours=2)
    assert model.downloaded_at == T0 + timedelta(hours=2)


def test_a_failed_addition_leaves_the_model_as_it_was(
    devon: Devon, source: FakeSource, store: MemoryStore
) -> None:
    before = devon.download(GGUF, include_patterns=["*Q4_K_M*"])
    source.fail_download = True
    with pytest.raises(DownloadFailed):
        devon.download(GGUF, include_patterns=["*Q8_0*", "README*"])
    assert store.get("huggingface", GGUF) == before


def test_a_refused_download_leaves_no_staging_directory(
    devon: Devon, source: FakeSource, store: MemoryStore
) -> None:
    def refuse(*args: object, **kwargs: object) -> list[str]:
        raise Forbidden("gated")

    source.download = refuse  # type: ignore[method-assign]
    with pytest.raises(Forbidden):
        devon.download(GGUF)
    assert store.unstaged == [f"/vault/.devon/staging/huggingface/{GGUF}"]
