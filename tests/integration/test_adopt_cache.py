"""`Devon.adopt` on a real Hugging Face cache (written by huggingface_hub against a test hub),
with the hub stopped, into the real disk vault."""

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download

from devon_adapters.clock import SystemClock
from devon_adapters.huggingface import HuggingFaceSource
from devon_adapters.vault.store import DiskModelStore
from devon_app.bootstrap import open_hf_cache
from devon_core import Devon, NotFound
from devon_core.adoption import AdoptReport, SkipReason
from devon_testhub import TestHub
from tests.support.hf_cache_builder import (
    DATASET,
    INVALID_FOLDER,
    WIDGET_FILE,
    build_cache_once,
    download,
    folder_of,
    snapshot_dir,
)
from tests.support.hf_helpers import LEGACY, ONNX, SHARDY, TINY, WIDGET, hub_bytes, source_for


@pytest.fixture(scope="module")
def built_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return build_cache_once(tmp_path_factory)


@pytest.fixture
def cache(built_cache: tuple[Path, str], tmp_path: Path) -> Path:
    copy = tmp_path / "hf" / "hub"
    shutil.copytree(built_cache[0], copy, symlinks=True)
    return copy


@pytest.fixture
def devon(built_cache: tuple[Path, str], cache: Path, tmp_path: Path) -> Iterator[Devon]:
    """Devon with the Hugging Face source pointing at the stopped hub."""
    store = DiskModelStore(tmp_path / "vault")
    source = HuggingFaceSource(endpoint=built_cache[1], token=False, retry_delay=0.0)
    yield Devon(
        source=source,
        store=store,
        clock=SystemClock(),
        open_cache=lambda location: open_hf_cache(cache, location),
    )
    store.close()


def _reasons(report: AdoptReport) -> dict[str, SkipReason]:
    return {s.repo: s.reason for s in report.skipped}


def test_adopt_takes_complete_verified_models_with_the_hub_stopped(devon: Devon) -> None:
    report = devon.adopt()

    assert [m.model_id for m in report.adopted] == [WIDGET, TINY]
    assert [m.model_id for m in devon.list()] == [WIDGET, TINY]


def test_adopt_reports_each_skipped_repo_and_why(devon: Devon) -> None:
    report = devon.adopt()

    assert _reasons(report) == {
        ONNX: SkipReason.INCOMPLETE,
        LEGACY: SkipReason.HASH_MISMATCH,
        SHARDY: SkipReason.INCOMPLETE,
        DATASET: SkipReason.NOT_A_MODEL,
        INVALID_FOLDER: SkipReason.INVALID_ID,
    }


def test_skipped_repos_are_never_listed_in_the_vault(devon: Devon) -> None:
    devon.adopt()

    listed = {m.model_id for m in devon.list()}
    assert not listed & {ONNX, LEGACY, SHARDY, DATASET}


def test_adopted_files_are_byte_identical_hard_links_of_the_cache(
    devon: Devon, cache: Path
) -> None:
    report = devon.adopt([TINY])

    model = report.adopted[0]
    snapshot = snapshot_dir(cache, TINY)
    assert model.files == tuple(sorted(p.name for p in snapshot.iterdir()))
    for name in model.files:
        in_vault = Path(model.path or "") / name
        assert not in_vault.is_symlink()
        assert in_vault.read_bytes() == (snapshot / name).read_bytes()
        assert os.stat(in_vault).st_ino == os.stat(snapshot / name).st_ino
    assert model.size_bytes == sum(os.stat(snapshot / n).st_size for n in model.files)


def test_the_cache_keeps_working_after_adoption(devon: Devon, cache: Path) -> None:
    devon.adopt([TINY])

    path = hf_hub_download(TINY, "config.json", cache_dir=cache, local_files_only=True)
    assert Path(path).read_text().startswith("{")


def test_a_subset_snapshot_is_adopted_with_just_its_files(devon: Devon) -> None:
    model = devon.adopt([WIDGET]).adopted[0]

    assert model.files == ("README.md", WIDGET_FILE)


def test_offline_metadata_is_read_from_the_cached_files_and_marked(devon: Devon) -> None:
    devon.adopt()

    tiny = devon.get(TINY)
    widget = devon.get(WIDGET)
    assert tiny is not None
    assert widget is not None
    assert tiny.metadata["metadata_from"] == "cache"
    assert tiny.metadata["architecture"] == "qwen2"
    assert tiny.metadata["format"] == ["safetensors"]
    assert tiny.metadata["license"] == "mit"
    assert tiny.metadata["parameter_count"] is not None
    assert widget.metadata["quantization"] == "Q4_K_M"
    assert widget.metadata["format"] == ["gguf"]


def test_adopting_twice_adopts_nothing_twice(devon: Devon) -> None:
    first = devon.adopt()

    again = devon.adopt()

    assert again.adopted == ()
    assert again.already_present == tuple(m.model_id for m in first.adopted)


def test_dry_run_reports_what_would_be_adopted_and_changes_nothing(
    devon: Devon, cache: Path
) -> None:
    before = sorted(str(p) for p in cache.rglob("*"))

    report = devon.adopt(dry_run=True)

    assert report.dry_run
    assert [m.model_id for m in report.adopted] == [WIDGET, TINY]
    assert _reasons(report)[LEGACY] is SkipReason.HASH_MISMATCH
    assert devon.list() == []
    assert sorted(str(p) for p in cache.rglob("*")) == before


def test_move_removes_the_cached_copy_once_adopted_and_leaves_skipped_repos(
    devon: Devon, cache: Path
) -> None:
    tiny_bytes = (snapshot_dir(cache, TINY) / "model.safetensors").read_bytes()

    devon.adopt(move=True)

    assert not (cache / folder_of(TINY)).exists()
    assert not (cache / ".locks" / folder_of(TINY)).exists()
    assert not (cache / folder_of(WIDGET)).exists()
    assert (cache / folder_of(LEGACY)).exists()
    model = devon.get(TINY)
    assert model is not None
    assert (Path(model.path) / "model.safetensors").read_bytes() == tiny_bytes


def test_named_models_only_are_adopted_and_unknown_ones_reported(devon: Devon) -> None:
    report = devon.adopt([TINY, "acme/not-cached"])

    assert [m.model_id for m in report.adopted] == [TINY]
    assert _reasons(report) == {"acme/not-cached": SkipReason.NOT_IN_CACHE}


def test_an_older_complete_snapshot_is_adopted_when_main_is_broken(
    devon: Devon, cache: Path
) -> None:
    folder = cache / folder_of(ONNX)
    broken = snapshot_dir(cache, ONNX)
    older = folder / "snapshots" / ("0" * 40)
    older.mkdir()
    (older / "config.json").symlink_to(os.readlink(broken / "config.json"))
    os.utime(older, (1, 1))

    report = devon.adopt([ONNX])

    assert [(m.model_id, m.revision, m.files) for m in report.adopted] == [
        (ONNX, "0" * 40, ("config.json",))
    ]


def test_reachable_hub_describes_adopted_models(session_test_hub: TestHub, tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    download(session_test_hub, cache, TINY)
    store = DiskModelStore(tmp_path / "vault")
    devon = Devon(
        source=source_for(session_test_hub),
        store=store,
        clock=SystemClock(),
        open_cache=lambda location: open_hf_cache(cache, location),
    )

    devon.adopt()

    model = devon.get(TINY)
    assert model is not None
    assert model.metadata["metadata_from"] == "huggingface"
    assert model.metadata["revision"] == session_test_hub.catalogue[TINY].sha
    assert (Path(model.path) / "model.safetensors").read_bytes() == hub_bytes(
        session_test_hub, TINY, "model.safetensors"
    )
    store.close()


def test_move_keeps_blobs_another_snapshot_still_links_to(devon: Devon, cache: Path) -> None:
    folder = cache / folder_of(TINY)
    current = snapshot_dir(cache, TINY)
    older = folder / "snapshots" / ("0" * 40)
    older.mkdir()
    (older / "config.json").symlink_to(os.readlink(current / "config.json"))

    devon.adopt([TINY], move=True)

    assert not current.exists()
    assert not (folder / "refs" / "main").exists()
    assert (older / "config.json").read_text().startswith("{")


def test_a_cache_on_another_filesystem_is_copied_and_left_intact(
    built_cache: tuple[Path, str], tmp_path: Path
) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs a second filesystem at /dev/shm")
    other = Path(tempfile.mkdtemp(dir=shm, prefix="devon-adopt-test-"))
    try:
        cache = other / "hub"
        shutil.copytree(built_cache[0], cache, symlinks=True)
        store = DiskModelStore(tmp_path / "vault")
        devon = Devon(
            store=store,
            clock=SystemClock(),
            open_cache=lambda location: open_hf_cache(cache, location),
        )

        model = devon.adopt([TINY]).adopted[0]

        snapshot = snapshot_dir(cache, TINY)
        for name in model.files:
            in_vault = Path(model.path or "") / name
            assert in_vault.read_bytes() == (snapshot / name).read_bytes()
            assert os.stat(in_vault).st_dev != os.stat(snapshot / name).st_dev
        store.close()
    finally:
        shutil.rmtree(other)


def _disk_full_at(wanted: str) -> Callable[[str], None]:
    def fail(step: str) -> None:
        if step == wanted:
            raise OSError(errno.ENOSPC, "No space left on device")

    return fail


def test_a_commit_that_fails_lists_nothing_and_a_move_keeps_the_cache(
    devon: Devon, cache: Path
) -> None:
    store = devon.store
    assert isinstance(store, DiskModelStore)
    store.after_step = _disk_full_at("commit:journaled")

    report = devon.adopt([TINY], move=True)

    assert report.adopted == ()
    assert [(s.repo, s.reason) for s in report.skipped] == [(TINY, SkipReason.FAILED)]
    assert "No space left" in report.skipped[0].detail
    assert devon.list() == []
    assert (snapshot_dir(cache, TINY) / "model.safetensors").is_file()


def test_a_failed_adoption_is_taken_by_the_next_run(devon: Devon) -> None:
    store = devon.store
    assert isinstance(store, DiskModelStore)
    store.after_step = _disk_full_at("commit:journaled")
    devon.adopt([TINY])
    store.after_step = _disk_full_at("never")

    report = devon.adopt([TINY])

    assert [m.model_id for m in report.adopted] == [TINY]
    assert [m.model_id for m in devon.list()] == [TINY]


def test_a_commit_failing_once_its_files_are_in_place_is_reported_as_adopted(
    devon: Devon,
) -> None:
    store = devon.store
    assert isinstance(store, DiskModelStore)
    store.after_step = _disk_full_at("commit:moved")

    report = devon.adopt([TINY])

    assert [m.model_id for m in report.adopted] == [TINY]
    assert [m.model_id for m in devon.list()] == [TINY]


def test_a_cache_option_naming_hf_home_instead_of_its_hub_folder_is_refused_clearly(
    devon: Devon, cache: Path
) -> None:
    hf_home = cache.parent

    with pytest.raises(NotFound) as refused:
        devon.adopt(cache=str(hf_home))

    assert str(refused.value) == (
        f"{hf_home} is not a Hugging Face cache but holds one in hub/ (it is HF_HOME, the "
        f"cache is HF_HOME/hub): use {cache}"
    )
    assert devon.list() == []
