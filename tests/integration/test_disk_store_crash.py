"""A process killed at any step of a commit or removal leaves a vault that, once reopened,
holds either the old state or the new one: never a half model, never a row without files."""

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devon_adapters import DiskModelStore
from tests.support.vault_builders import assert_consistent, files_on_disk, put_model

CHILD = """
import json, os, sys
from datetime import UTC, datetime
from pathlib import Path
from devon_adapters import DiskModelStore
from devon_core.commit_metadata import CommitMetadata

root, action, step, files = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
store = DiskModelStore(root, database_url=sys.argv[5] or None)

def crash(name):
    if name == step:
        os._exit(17)

store.after_step = crash
if action == "commit":
    staging = store.stage("huggingface", "acme/widget-7b")
    for relative, text in files.items():
        (Path(staging.path) / relative).write_text(text)
    store.commit(staging, list(files), datetime.now(UTC), CommitMetadata())
else:
    store.remove("huggingface", "acme/widget-7b")
"""

OLD = {"old.bin": b"old"}
NEW = {"new.bin": "new", "config.json": "{}"}


def crash_during(root: Path, action: str, step: str, url: str | None) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), action, step, json.dumps(NEW), url or ""],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 17, done.stderr


Opener = Callable[[Path], DiskModelStore]


@pytest.fixture
def open_store(database_url: str | None) -> Iterator[Opener]:
    """Opens a vault on this test's index; every store it opened is closed after the test
    (a PostgreSQL pool left to the garbage collector can be collected in one of its own
    threads, which then cannot wait for itself)."""
    opened: list[DiskModelStore] = []

    def opening(root: Path) -> DiskModelStore:
        opened.append(DiskModelStore(root, database_url=database_url))
        return opened[-1]

    yield opening
    for store in opened:
        store.close()


def reopened_model(root: Path, open_store: Opener) -> dict[str, bytes] | None:
    store = open_store(root)
    assert_consistent(store)
    assert store.unfinished_operations() == []
    model = store.get("huggingface", "acme/widget-7b")
    return None if model is None else files_on_disk(model.path)


NEW_FILES = {k: v.encode() for k, v in NEW.items()}


@pytest.mark.parametrize(
    ("step", "expected"),
    [("commit:journaled", None), ("commit:moved", NEW_FILES), ("commit:recorded", NEW_FILES)],
)
def test_crash_during_first_commit_leaves_no_model_or_the_whole_model(
    tmp_path: Path,
    database_url: str | None,
    open_store: Opener,
    step: str,
    expected: dict[str, bytes] | None,
) -> None:
    root = tmp_path / "vault"
    crash_during(root, "commit", step, database_url)
    assert reopened_model(root, open_store) == expected


def test_crash_before_the_move_keeps_staging_for_a_resume(
    tmp_path: Path, database_url: str | None, open_store: Opener
) -> None:
    root = tmp_path / "vault"
    crash_during(root, "commit", "commit:journaled", database_url)
    staging = open_store(root).stage("huggingface", "acme/widget-7b")
    assert staging.present_bytes == sum(len(v) for v in NEW_FILES.values())


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("commit:journaled", OLD),
        ("commit:old-aside", OLD),
        ("commit:moved", NEW_FILES),
        ("commit:recorded", NEW_FILES),
    ],
)
def test_crash_during_a_replacing_commit_leaves_the_old_copy_or_the_new(
    tmp_path: Path,
    database_url: str | None,
    open_store: Opener,
    step: str,
    expected: dict[str, bytes],
) -> None:
    root = tmp_path / "vault"
    put_model(open_store(root), files=OLD)
    crash_during(root, "commit", step, database_url)
    assert reopened_model(root, open_store) == expected


@pytest.mark.parametrize("step", ["remove:unindexed", "remove:trashed"])
def test_crash_during_remove_finishes_the_removal(
    tmp_path: Path, database_url: str | None, open_store: Opener, step: str
) -> None:
    root = tmp_path / "vault"
    model = put_model(open_store(root), files=OLD)
    crash_during(root, "remove", step, database_url)
    assert reopened_model(root, open_store) is None
    assert not Path(model.path).exists()


PAUSING_CHILD = """
import os, sys, time
from datetime import UTC, datetime
from pathlib import Path
from devon_adapters import DiskModelStore
from devon_core.commit_metadata import CommitMetadata

root, paused, resume = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
store = DiskModelStore(root, database_url=sys.argv[4] or None)

def pause(name):
    if name == "commit:old-aside":
        paused.touch()
        while not resume.exists():
            time.sleep(0.01)

store.after_step = pause
staging = store.stage("huggingface", "acme/widget-7b")
(Path(staging.path) / "new.bin").write_text("new")
store.commit(staging, ["new.bin"], datetime.now(UTC), CommitMetadata())
"""


def test_opening_the_vault_leaves_a_commit_still_running_elsewhere_alone(
    tmp_path: Path, database_url: str | None, open_store: Opener
) -> None:
    root, paused, resume = tmp_path / "vault", tmp_path / "paused", tmp_path / "resume"
    put_model(open_store(root), files=OLD)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PAUSING_CHILD,
            str(root),
            str(paused),
            str(resume),
            database_url or "",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while not paused.exists():
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            time.sleep(0.01)
        opened = open_store(root)
        assert opened.unfinished_operations() == ["commit huggingface/acme/widget-7b"]
        assert len(list(opened.paths.trash.iterdir())) == 1  # the old copy, set aside
    finally:
        resume.touch()
        child.wait(timeout=30)
    assert child.returncode == 0
    assert reopened_model(root, open_store) == {"new.bin": b"new"}


REMOVE_PLACED_CHILD = """
import os, sys
from devon_adapters import DiskModelStore

root, step = sys.argv[1], sys.argv[2]
store = DiskModelStore(root, database_url=sys.argv[3] or None)

def crash(name):
    if name == step:
        os._exit(17)

store.after_step = crash
store.remove("local", "team/tuned")
"""


@pytest.mark.parametrize("step", ["remove:unindexed", "remove:trashed"])
def test_crash_while_removing_a_hand_placed_model_finishes_removing_its_own_folder(
    tmp_path: Path, database_url: str | None, open_store: Opener, step: str
) -> None:
    root = tmp_path / "vault"
    store = open_store(root)
    (root / "team" / "tuned").mkdir(parents=True)
    (root / "team" / "tuned" / "model.gguf").write_bytes(b"GGUF")
    assert store.scan([]).registered == ("local/team/tuned",)
    done = subprocess.run(
        [sys.executable, "-c", REMOVE_PLACED_CHILD, str(root), step, database_url or ""],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 17, done.stderr

    reopened = open_store(root)

    assert_consistent(reopened)
    assert reopened.unfinished_operations() == []
    assert reopened.list() == []
    assert not (root / "team" / "tuned").exists()
