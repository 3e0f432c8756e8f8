"""Downloads through huggingface_hub's HTTP session against the test hub: exact files, pinned
to the inspected revision, resumed with `Range`, verified by sha256, with honest progress."""

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from devon_adapters.transfer.staging_layout import FileJob
from devon_core import DownloadFailed, Forbidden, NotFound
from devon_core.filters import matches_any
from devon_core.models import RemoteFile, RemoteModel
from devon_testhub import GATED_REPO, Repo, TestHub, hub_file, run_test_hub
from devon_testhub.content import FileContent
from tests.support.hf_helpers import SHARDY, TINY, WIDGET, files_under, hub_bytes, source_for

SHARD = "model-00001-of-00003.safetensors"
TOKENIZER = "tokenizer.json"


def partial_of(dest: Path, path: str) -> Path:
    return dest / ".cache/devon/partial" / f"{path}.part"


def leave_partial(dest: Path, model: RemoteModel, file: RemoteFile, data: bytes) -> None:
    """What an attempt at `model`'s revision stopped by a crash leaves: a recorded `.part`."""
    job = FileJob.plan(dest, file)
    job.start_partial(model.revision)
    job.partial.write_bytes(data)


def fail_after(hub: TestHub, path: str, after_bytes: int) -> None:
    """The next download of `path` is cut after `after_bytes` and its retry answered 503."""
    hub.faults.cut_transfers(after_bytes=after_bytes, times=1, path_contains=path)
    hub.faults.fail_requests(503, times=1, path_contains=path, skip=1)


def with_changed(repo: Repo, path: str, content: bytes) -> Repo:
    """A new commit of `repo` where `path` holds `content` and a NOTICE file was added."""
    files = [hub_file(f.path, FileContent(content)) if f.path == path else f for f in repo.files]
    files.append(hub_file("NOTICE", FileContent.text("new commit\n")))
    return replace(repo, files=tuple(files))


def test_full_download_is_byte_identical_to_the_hub(test_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(test_hub)
    model = source.info(SHARDY)

    paths = source.download(model, model.files, str(tmp_path))

    assert sorted(paths) == sorted(f.path for f in model.files)
    assert files_under(tmp_path) == {p: hub_bytes(test_hub, SHARDY, p) for p in paths}


def test_filtered_download_fetches_only_the_given_files(test_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(test_hub)
    model = source.info(WIDGET)
    wanted = [f for f in model.files if matches_any(f.path, ["*Q4_K_M*"])]

    paths = source.download(model, wanted, str(tmp_path))

    assert paths == ["widget-8b.Q4_K_M.gguf"]
    assert files_under(tmp_path) == {
        "widget-8b.Q4_K_M.gguf": hub_bytes(test_hub, WIDGET, "widget-8b.Q4_K_M.gguf")
    }
    assert test_hub.stats.count("/resolve/", "GET") == 1


def test_files_in_sub_folders_land_in_sub_folders(test_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(test_hub)
    model = source.info(WIDGET)
    wanted = [f for f in model.files if f.path.startswith("BF16/")]

    source.download(model, wanted, str(tmp_path))

    assert sorted(files_under(tmp_path)) == [f.path for f in wanted]


def test_download_is_pinned_to_the_revision_info_saw(test_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(test_hub)
    model = source.info(SHARDY)

    source.download(model, model.files[:2], str(tmp_path))

    gets = test_hub.stats.requests("/resolve/", "GET")
    assert gets
    assert all(f"/resolve/{model.revision}/" in r.path for r in gets)


def test_a_push_between_info_and_download_never_mixes_revisions(tmp_path: Path) -> None:
    with run_test_hub() as hub:
        source = source_for(hub)
        model = source.info(SHARDY)
        pushed = replace(hub.catalogue[SHARDY], files=hub.catalogue[SHARDY].files[:-1])
        hub.catalogue = hub.catalogue.with_repo(pushed)  # a new commit on main

        with pytest.raises(NotFound, match="revision"):
            source.download(model, model.files, str(tmp_path))

        assert all(f"/resolve/{model.revision}/" in r.path for r in hub.stats.requests("/resolve/"))
        assert files_under(tmp_path) == {}


def test_progress_is_monotonic_and_ends_at_the_total(test_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(test_hub)
    model = source.info(SHARDY)
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def progress(done: int, total: int) -> None:
        with lock:
            seen.append((done, total))

    source.download(model, model.files, str(tmp_path), progress)

    dones = [done for done, _ in seen]
    assert dones == sorted(dones)
    assert seen[-1] == (model.total_size_bytes, model.total_size_bytes)


def test_cut_transfer_is_resumed_with_a_range_request(test_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(test_hub)
    model = source.info(SHARDY)
    test_hub.faults.cut_transfers(after_bytes=40_000, times=1, path_contains=SHARD)

    source.download(model, model.files, str(tmp_path))

    assert test_hub.stats.range_starts(SHARD) == [None, 40_000]
    assert (tmp_path / SHARD).read_bytes() == hub_bytes(test_hub, SHARDY, SHARD)


def test_failed_download_keeps_its_bytes_and_the_next_attempt_resumes(
    test_hub: TestHub, tmp_path: Path
) -> None:
    source = source_for(test_hub, download_retries=0)
    model = source.info(SHARDY)
    test_hub.faults.cut_transfers(after_bytes=40_000, times=1, path_contains=SHARD)
    test_hub.faults.fail_requests(503, times=1, path_contains=SHARD, skip=1)

    with pytest.raises(DownloadFailed, match="resume"):
        source.download(model, model.files, str(tmp_path))
    test_hub.stats.reset()
    progress: list[int] = []
    source.download(model, model.files, str(tmp_path), lambda done, _: progress.append(done))

    assert test_hub.stats.range_starts(SHARD) == [40_000]
    kept = progress[0]
    assert kept >= 40_000
    assert test_hub.stats.bytes_served("/resolve/") == model.total_size_bytes - kept
    expected = {f.path: hub_bytes(test_hub, SHARDY, f.path) for f in model.files}
    assert files_under(tmp_path) == expected


def test_whole_file_left_unchecked_by_a_crash_is_verified_without_transfer(
    test_hub: TestHub, tmp_path: Path
) -> None:
    source = source_for(test_hub)
    model = source.info(SHARDY)
    shard = next(f for f in model.files if f.path == SHARD)
    leave_partial(tmp_path, model, shard, hub_bytes(test_hub, SHARDY, SHARD))

    source.download(model, [shard], str(tmp_path))

    assert test_hub.stats.count("/resolve/") == 0
    assert (tmp_path / SHARD).read_bytes() == hub_bytes(test_hub, SHARDY, SHARD)


def test_small_file_of_a_failed_download_is_resumed_with_a_range_request(
    test_hub: TestHub, tmp_path: Path
) -> None:
    source = source_for(test_hub, download_retries=0)
    model = source.info(TINY)
    fail_after(test_hub, TOKENIZER, 50)

    with pytest.raises(DownloadFailed, match="resume"):
        source.download(model, model.files, str(tmp_path))
    test_hub.stats.reset()
    source.download(model, model.files, str(tmp_path))

    assert test_hub.stats.range_starts(TOKENIZER) == [50]
    assert (tmp_path / TOKENIZER).read_bytes() == hub_bytes(test_hub, TINY, TOKENIZER)


@pytest.mark.parametrize("verify", [True, False], ids=["verified", "unverified"])
def test_stray_partial_without_a_record_is_started_anew(
    test_hub: TestHub, tmp_path: Path, verify: bool
) -> None:
    source = source_for(test_hub, verify_checksums=verify)
    model = source.info(TINY)
    for path in (TOKENIZER, "model.safetensors"):
        partial_of(tmp_path, path).parent.mkdir(parents=True, exist_ok=True)
        partial_of(tmp_path, path).write_bytes(b"XXXXXXXXXX")

    source.download(model, model.files, str(tmp_path))

    assert test_hub.stats.range_starts(TOKENIZER) == [None]
    assert test_hub.stats.range_starts("model.safetensors") == [None]
    assert files_under(tmp_path) == {f.path: hub_bytes(test_hub, TINY, f.path) for f in model.files}


def test_partial_of_a_file_changed_by_a_new_commit_is_started_anew(tmp_path: Path) -> None:
    with run_test_hub() as hub:
        source = source_for(hub, download_retries=0)
        old = source.info(TINY)
        fail_after(hub, TOKENIZER, 50)
        with pytest.raises(DownloadFailed):
            source.download(old, old.files, str(tmp_path))
        renamed = hub_bytes(hub, TINY, TOKENIZER).replace(b"{", b"[")  # same size, new bytes
        hub.catalogue = hub.catalogue.with_repo(
            with_changed(hub.catalogue[TINY], TOKENIZER, renamed)
        )
        hub.stats.reset()

        new = source.info(TINY)
        source.download(new, new.files, str(tmp_path))

        assert new.revision != old.revision
        assert hub.stats.range_starts(TOKENIZER) == [None]
        assert (tmp_path / TOKENIZER).read_bytes() == renamed


def test_partial_of_a_file_a_new_commit_left_unchanged_is_resumed(tmp_path: Path) -> None:
    with run_test_hub() as hub:
        source = source_for(hub, download_retries=0)
        old = source.info(SHARDY)
        fail_after(hub, SHARD, 40_000)
        with pytest.raises(DownloadFailed):
            source.download(old, old.files, str(tmp_path))
        unchanged = hub_bytes(hub, SHARDY, TOKENIZER)
        hub.catalogue = hub.catalogue.with_repo(
            with_changed(hub.catalogue[SHARDY], TOKENIZER, unchanged)
        )
        hub.stats.reset()

        new = source.info(SHARDY)
        source.download(new, new.files, str(tmp_path))

        assert new.revision != old.revision
        assert hub.stats.range_starts(SHARD) == [40_000]
        assert (tmp_path / SHARD).read_bytes() == hub_bytes(hub, SHARDY, SHARD)


class Cancelled(Exception):
    pass


def test_progress_callback_raising_cancels_and_keeps_what_arrived(
    test_hub: TestHub, tmp_path: Path
) -> None:
    source = source_for(test_hub)
    model = source.info(SHARDY)

    def cancel_midway(done: int, total: int) -> None:
        if 0 < done < total:
            raise Cancelled

    with pytest.raises(Cancelled):
        source.download(model, model.files, str(tmp_path), cancel_midway)
    test_hub.stats.reset()
    source.download(model, model.files, str(tmp_path))

    assert test_hub.stats.bytes_served("/resolve/") < model.total_size_bytes
    expected = {f.path: hub_bytes(test_hub, SHARDY, f.path) for f in model.files}
    assert files_under(tmp_path) == expected


def test_corrupted_file_is_caught_deleted_and_named(test_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(test_hub)
    model = source.info(SHARDY)
    test_hub.faults.corrupt(SHARDY, SHARD)

    with pytest.raises(DownloadFailed, match=f"Checksum mismatch for {SHARD}"):
        source.download(model, model.files, str(tmp_path))

    assert not (tmp_path / SHARD).exists()
    assert SHARD not in {p.name.removesuffix(".part") for p in tmp_path.rglob("*")}


def test_corrupted_file_passes_when_verification_is_off(test_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(test_hub, verify_checksums=False)
    model = source.info(SHARDY)
    test_hub.faults.corrupt(SHARDY, SHARD)

    source.download(model, model.files, str(tmp_path))

    assert (tmp_path / SHARD).read_bytes() != hub_bytes(test_hub, SHARDY, SHARD)


def test_repeated_download_reuses_complete_files_without_transfer(
    test_hub: TestHub, tmp_path: Path
) -> None:
    source = source_for(test_hub)
    model = source.info(SHARDY)
    source.download(model, model.files, str(tmp_path))
    test_hub.stats.reset()

    source.download(model, model.files, str(tmp_path))

    assert test_hub.stats.count("/resolve/") == 0


def test_gated_download_without_token_is_forbidden_with_a_token_hint(
    test_hub: TestHub, tmp_path: Path
) -> None:
    model = source_for(test_hub).info(GATED_REPO)

    with pytest.raises(Forbidden, match="HF_TOKEN"):
        source_for(test_hub).download(model, model.files, str(tmp_path))


def test_gated_download_works_with_the_right_token(test_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(test_hub, token=test_hub.token)
    model = source.info(GATED_REPO)

    source.download(model, model.files, str(tmp_path))

    assert files_under(tmp_path) == {
        f.path: hub_bytes(test_hub, GATED_REPO, f.path) for f in model.files
    }


def test_file_gone_from_the_hub_is_not_found(test_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(test_hub)
    model = source.info(SHARDY)
    ghost = type(model.files[0])("no-such-file.bin", 10, None)

    with pytest.raises(NotFound, match=SHARDY):
        source.download(model, [ghost], str(tmp_path))


def test_hub_failing_mid_download_is_download_failed(test_hub: TestHub, tmp_path: Path) -> None:
    source = source_for(test_hub, download_retries=1)
    model = source.info(SHARDY)
    test_hub.faults.fail_requests(503, times=100, path_contains="/resolve/")

    with pytest.raises(DownloadFailed, match="HTTP 503"):
        source.download(model, model.files, str(tmp_path))


def test_hub_going_silent_mid_download_times_out_as_download_failed(
    test_hub: TestHub, tmp_path: Path
) -> None:
    source = source_for(test_hub, download_retries=0, read_timeout=0.3)
    model = source.info(SHARDY)
    test_hub.faults.hang("/resolve/")

    with pytest.raises(DownloadFailed, match="timed out"):
        source.download(model, model.files, str(tmp_path))


def test_paths_escaping_the_staging_directory_are_refused(
    test_hub: TestHub, tmp_path: Path
) -> None:
    source = source_for(test_hub)
    model = source.info(SHARDY)
    evil = type(model.files[0])("../outside.txt", 10, None)

    with pytest.raises(DownloadFailed, match="outside"):
        source.download(model, [evil], str(tmp_path / "staging"))

    assert not (tmp_path / "outside.txt").exists()
