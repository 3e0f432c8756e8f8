"""A vault stays usable and consistent when the disk says no: a failed move, a thread
that comes and goes, another process deleting the same folder."""

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from devon_adapters import DiskModelStore
from devon_adapters.vault.trees import delete_tree
from devon_core import DownloadFailed, RemovalFailed
from tests.support.vault_builders import assert_consistent, files_on_disk, put_model

OLD = {"old.bin": b"old"}
NEW = {"new.bin": b"new", "config.json": b"{}"}


def open_index_files(root: Path) -> int:
    """How many of this process's file descriptors point into the vault's state folder."""
    state = str(root / ".devon")
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(state):
                count += 1
        except OSError:
            continue  # closed while we looked
    return count


def failing_at(wanted: str) -> Callable[[str], None]:
    """A step hook for the store: the disk is full when `wanted` completes."""

    def fail(step: str) -> None:
        if step == wanted:
            raise OSError(errno.ENOSPC, "No space left on device")

    return fail


def test_threads_that_ended_leave_no_index_connections_open(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    store = DiskModelStore(root)
    put_model(store)
    for _ in range(40):
        thread = threading.Thread(target=store.list)
        thread.start()
        thread.join()
    # this thread's connection and at most the last ended thread's (db, wal, shm each)
    assert open_index_files(root) <= 6
    store.close()
    assert open_index_files(root) == 0


@pytest.mark.parametrize("step", ["commit:journaled", "commit:old-aside"])
def test_a_replacing_commit_that_fails_to_move_keeps_the_old_copy_at_once(
    tmp_path: Path, step: str
) -> None:
    store = DiskModelStore(tmp_path / "vault")
    put_model(store, files=OLD)
    store.after_step = failing_at(step)
    with pytest.raises(DownloadFailed, match="No space left") as raised:
        put_model(store, files=NEW)
    assert isinstance(raised.value.__cause__, OSError)
    model = store.get("huggingface", "acme/widget-7b")
    assert model is not None
    assert files_on_disk(model.path) == OLD
    assert store.unfinished_operations() == []
    assert_consistent(store)


def test_a_failed_commit_keeps_the_download_in_staging_for_a_resume(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    put_model(store, files=OLD)
    store.after_step = failing_at("commit:old-aside")
    with pytest.raises(DownloadFailed):
        put_model(store, files=NEW)
    staging = store.stage("huggingface", "acme/widget-7b")
    assert files_on_disk(staging.path) == NEW


def test_a_remove_that_fails_to_move_the_model_keeps_it_listed(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    put_model(store, files=OLD)
    store.after_step = failing_at("remove:unindexed")
    with pytest.raises(RemovalFailed, match=r"Could not remove huggingface/acme/widget-7b"):
        store.remove("huggingface", "acme/widget-7b")
    model = store.get("huggingface", "acme/widget-7b")
    assert model is not None
    assert files_on_disk(model.path) == OLD
    assert store.unfinished_operations() == []
    assert_consistent(store)


def tree_of_files(path: Path, folders: int = 40, files: int = 50) -> Path:
    for folder in range(folders):
        (path / f"d{folder}").mkdir(parents=True)
        for name in range(files):
            (path / f"d{folder}" / f"f{name}").write_bytes(b"")
    return path


def delete_from_two_threads_at_once(tree: Path) -> list[BaseException]:
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def delete() -> None:
        start.wait()
        try:
            delete_tree(tree)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=delete) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_deleting_a_tree_another_thread_is_deleting_raises_nothing(tmp_path: Path) -> None:
    for attempt in range(3):  # the two rarely fail to collide; three tries make it certain
        tree = tree_of_files(tmp_path / f"tree-{attempt}")
        assert delete_from_two_threads_at_once(tree) == []
        assert not tree.exists()
