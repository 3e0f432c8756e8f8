"""`<storage>/manifest.json`: what KITT's Quick Test reads, kept equal to the index."""

import json
import os
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devon_adapters import DiskModelStore
from devon_adapters.vault.manifest import manifest_entry
from devon_app import Settings, build_devon
from devon_core import Devon
from tests.support.file_source import FileSource
from tests.support.vault_builders import put_model
from tests.support.weights import kitt_read_manifest, safetensors_bytes

REQUIRED = {
    "source",
    "model_id",
    "path",
    "files",
    "size_bytes",
    "downloaded_at",
    "last_used",
    "metadata",
}


def make_devon(vault: Path) -> Devon:
    return build_devon(Settings(storage_path=vault), sources=[FileSource()])


def manifest_of(vault: Path) -> dict[str, Any]:
    data = json.loads((vault / "manifest.json").read_text())
    assert isinstance(data, dict)
    return data


def index_view(store: DiskModelStore) -> dict[str, Any]:
    """The manifest the index implies right now."""
    return {
        f"{m.source}::{m.model_id}": manifest_entry(
            store.root,
            m.source,
            m.model_id,
            m.size_bytes,
            m.downloaded_at,
            m.last_used,
            m.files,
            m.metadata,
        )
        for m in store.list()
    }


def test_after_downloads_kitts_reader_finds_each_model_with_its_path_size_and_format(
    tmp_path: Path,
) -> None:
    devon = make_devon(tmp_path / "vault")
    widget = devon.download("acme/widget-7b")
    gadget = devon.download("acme/gadget-1b")

    models = kitt_read_manifest(tmp_path / "vault")

    assert models == [
        {
            "key": "huggingface::acme/gadget-1b",
            "path": gadget.path,
            "source": "huggingface",
            "size_bytes": gadget.size_bytes,
            "format": ["pytorch"],
        },
        {
            "key": "huggingface::acme/widget-7b",
            "path": widget.path,
            "source": "huggingface",
            "size_bytes": widget.size_bytes,
            "format": ["safetensors"],
        },
    ]
    assert all(Path(m["path"]).is_absolute() and Path(m["path"]).is_dir() for m in models)


def test_every_manifest_entry_holds_the_fields_of_devon_1_2(tmp_path: Path) -> None:
    devon = make_devon(tmp_path / "vault")
    model = devon.download("acme/widget-7b")

    entry = manifest_of(tmp_path / "vault")["huggingface::acme/widget-7b"]

    assert set(entry) >= REQUIRED
    assert entry["model_id"] == "acme/widget-7b"
    assert entry["files"] == ["config.json", "model.safetensors"]
    assert entry["downloaded_at"] == model.downloaded_at.isoformat(timespec="microseconds")
    assert entry["last_used"] is None
    assert entry["metadata"]["revision"] == "1" * 40


def test_a_removed_model_is_gone_from_the_manifest_when_remove_returns(tmp_path: Path) -> None:
    devon = make_devon(tmp_path / "vault")
    devon.download("acme/widget-7b")
    devon.download("acme/gadget-1b")

    devon.remove("acme/widget-7b")

    assert [m["key"] for m in kitt_read_manifest(tmp_path / "vault")] == [
        "huggingface::acme/gadget-1b"
    ]


def test_a_clean_leaves_the_manifest_equal_to_the_index(tmp_path: Path) -> None:
    devon = make_devon(tmp_path / "vault")
    devon.download("acme/widget-7b")
    devon.download("acme/gadget-1b")

    devon.clean(all=True)

    assert manifest_of(tmp_path / "vault") == {}


def test_a_model_recorded_without_format_gets_the_formats_of_its_files(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    put_model(store, files={"a.gguf": b"GGUF", "config.json": b"{}"}, metadata={})

    entry = manifest_of(tmp_path / "vault")["huggingface::acme/widget-7b"]

    assert entry["metadata"]["format"] == ["gguf"]


def test_a_new_vault_has_an_empty_manifest(tmp_path: Path) -> None:
    DiskModelStore(tmp_path / "vault")
    assert manifest_of(tmp_path / "vault") == {}


def test_a_vault_without_a_manifest_gets_one_when_opened(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    put_model(store)
    store.close()
    (tmp_path / "vault" / "manifest.json").unlink()

    DiskModelStore(tmp_path / "vault")

    assert list(manifest_of(tmp_path / "vault")) == ["huggingface::acme/widget-7b"]


def wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_last_used_change_reaches_the_manifest_within_seconds(tmp_path: Path) -> None:
    devon = make_devon(tmp_path / "vault")
    devon.download("acme/widget-7b")

    used = devon.info("acme/widget-7b").local
    assert used is not None
    assert used.last_used is not None
    expected = used.last_used.isoformat(timespec="microseconds")

    def reflected() -> bool:
        entry = manifest_of(tmp_path / "vault")["huggingface::acme/widget-7b"]
        return bool(entry["last_used"] == expected)

    wait_for(reflected)


def test_closing_the_store_writes_a_pending_last_used_change_at_once(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    model = put_model(store)
    when = model.downloaded_at.replace(year=2026)
    store.mark_used("huggingface", "acme/widget-7b", when)

    store.close()

    entry = manifest_of(tmp_path / "vault")["huggingface::acme/widget-7b"]
    assert entry["last_used"] == when.isoformat(timespec="microseconds")


def test_readers_never_see_a_torn_manifest_while_models_come_and_go(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    stop = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(len(manifest_of(tmp_path / "vault")))
            except BaseException as error:
                failures.append(error)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(30):
            put_model(store, f"acme/m{i}", {"w.safetensors": bytes(2000 * i)})
            if i % 3 == 0:
                store.remove("huggingface", f"acme/m{i}")
    finally:
        stop.set()
        reader.join()
    assert failures == []
    assert len(seen) > 0
    assert manifest_of(tmp_path / "vault") == index_view(store)
    assert [p for p in os.listdir(store.paths.state) if p.endswith(".tmp")] == []


def test_the_manifest_never_lists_a_model_whose_files_are_being_deleted(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    put_model(store)
    listed_while_trashing: list[bool] = []

    def spy(step: str) -> None:
        if step == "remove:trashed":
            listed_while_trashing.append(bool(manifest_of(tmp_path / "vault")))

    store.after_step = spy
    store.remove("huggingface", "acme/widget-7b")

    assert listed_while_trashing == [False]


WORKER = """
import sys, time
from pathlib import Path
from devon_app import Settings, build_devon
from tests.support.file_source import FileSource

root, me, other, count, rounds = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:])
catalogue = {f"{me}/m{i}": {"config.json": b"{}", "w.bin": bytes(i + 1)} for i in range(count)}
catalogue.update({f"{me}/r{k}": {"w.bin": b"r"} for k in range(rounds)})
devon = build_devon(Settings(storage_path=Path(root)), sources=[FileSource(catalogue)])
for i in range(count):
    devon.download(f"{me}/m{i}")
    if i % 3 == 1:
        devon.remove(f"{me}/m{i}")
    elif i % 3 == 2:
        devon.info(f"{me}/m{i}")   # marks it used: written within seconds, or at exit
gate = Path(root).parent
for k in range(rounds):            # both commit at the same moment, round after round
    (gate / f"{me}-{k}").touch()
    while not (gate / f"{other}-{k}").exists():
        time.sleep(0.001)
    devon.download(f"{me}/r{k}")
"""


def test_two_processes_changing_the_vault_at_once_leave_the_manifest_equal_to_the_index(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    vault = tmp_path / "vault"
    DiskModelStore(vault).close()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(vault), me, other, "12", "15"],
            cwd=repo,
            stderr=subprocess.PIPE,
            text=True,
        )
        for me, other in (("alpha", "beta"), ("beta", "alpha"))
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err

    store = DiskModelStore(vault)
    expected = index_view(store)
    assert manifest_of(vault) == expected
    assert len(expected) == 2 * (8 + 15)  # 8 of 12 kept and 15 round models, each process
    used = [key for key, entry in expected.items() if entry["last_used"]]
    assert len(used) == 8


# -- a vault copied without .devon/ -----------------------------------------------------


def copied_without_state(vault: Path, copy: Path) -> Path:
    shutil.copytree(vault, copy, ignore=shutil.ignore_patterns(".devon"))
    return copy


def test_a_vault_copied_without_its_index_keeps_metadata_times_and_reroots_paths(
    tmp_path: Path,
) -> None:
    devon = make_devon(tmp_path / "vault")
    original = devon.download("acme/widget-7b")
    used = devon.info("acme/widget-7b").local
    assert isinstance(devon.store, DiskModelStore)
    devon.store.close()
    copy = copied_without_state(tmp_path / "vault", tmp_path / "elsewhere" / "vault")

    restored = DiskModelStore(copy).get("huggingface", "acme/widget-7b")

    assert restored is not None
    assert used is not None
    assert restored.path == str(copy / "huggingface" / "acme" / "widget-7b")
    # The test source reports no format; the manifest gave it the files' one.
    assert restored.metadata == {**original.metadata, "format": ["safetensors"]}
    assert restored.downloaded_at == original.downloaded_at
    assert restored.last_used == used.last_used
    assert restored.files == original.files
    assert manifest_of(copy)["huggingface::acme/widget-7b"]["path"] == restored.path


def test_a_copied_vault_skips_and_reports_entries_whose_files_are_missing(
    tmp_path: Path,
) -> None:
    devon = make_devon(tmp_path / "vault")
    devon.download("acme/widget-7b")
    devon.download("acme/gadget-1b")
    copy = copied_without_state(tmp_path / "vault", tmp_path / "copy")
    (copy / "huggingface" / "acme" / "gadget-1b" / "weights" / "part-1.bin").unlink()

    store = DiskModelStore(copy)

    assert [m.key for m in store.list()] == ["huggingface/acme/widget-7b"]
    assert store.rebuild_skipped == [
        ("huggingface/acme/gadget-1b", "files missing: weights/part-1.bin")
    ]
    assert list(manifest_of(copy)) == ["huggingface::acme/widget-7b"]


def test_a_copied_vault_registers_folders_the_manifest_does_not_name(tmp_path: Path) -> None:
    devon = make_devon(tmp_path / "vault")
    devon.download("acme/widget-7b")
    copy = copied_without_state(tmp_path / "vault", tmp_path / "copy")
    extra = copy / "huggingface" / "acme" / "extra"
    extra.mkdir(parents=True)
    (extra / "model.safetensors").write_bytes(safetensors_bytes({"w": [4]}))

    store = DiskModelStore(copy)

    assert [m.key for m in store.list()] == [
        "huggingface/acme/extra",
        "huggingface/acme/widget-7b",
    ]
    widget = store.get("huggingface", "acme/widget-7b")
    assert widget is not None
    assert widget.metadata["revision"] == "1" * 40


def test_a_damaged_index_is_rebuilt_from_the_manifest(tmp_path: Path) -> None:
    devon = make_devon(tmp_path / "vault")
    original = devon.download("acme/widget-7b")
    assert isinstance(devon.store, DiskModelStore)
    devon.store.close()
    (tmp_path / "vault" / ".devon" / "index.sqlite3").write_bytes(b"not a database" * 100)

    restored = DiskModelStore(tmp_path / "vault").get("huggingface", "acme/widget-7b")

    assert restored is not None
    assert restored.metadata == {**original.metadata, "format": ["safetensors"]}
    assert restored.downloaded_at == original.downloaded_at


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]"])
def test_an_unreadable_manifest_leaves_the_rebuild_to_the_folders(
    tmp_path: Path, content: bytes
) -> None:
    devon = make_devon(tmp_path / "vault")
    devon.download("acme/widget-7b")
    copy = copied_without_state(tmp_path / "vault", tmp_path / "copy")
    (copy / "manifest.json").write_bytes(content)

    restored = DiskModelStore(copy).get("huggingface", "acme/widget-7b")

    assert restored is not None
    assert restored.metadata == {}


def test_the_manifest_is_valid_json_whatever_the_vault_path_and_metadata_hold(
    tmp_path: Path,
) -> None:
    store = DiskModelStore(tmp_path / 'a "quoted" vault ü\\x')
    put_model(store, "acme/one", metadata={"format": ["gguf"], "note": 'say "hi" ü'})
    put_model(store, "acme/two", metadata={"format": [], "nested": {"format": ["x"]}})
    put_model(store, "acme/three", metadata={})

    assert manifest_of(Path(store.root)) == index_view(store)
    formats = [e["metadata"]["format"] for e in manifest_of(Path(store.root)).values()]
    assert formats == [["gguf"], ["safetensors"], ["safetensors"]]


def test_a_manifest_that_cannot_be_written_never_fails_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import errno

    from devon_adapters.vault import manifest as manifest_module

    store = DiskModelStore(tmp_path / "vault")

    def disk_full(path: Path, data: bytes, temporary_dir: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(manifest_module, "write_atomically", disk_full)
        model = put_model(store)

    assert store.get("huggingface", "acme/widget-7b") == model
    assert "No space left on device" in caplog.text
    assert manifest_of(tmp_path / "vault") == {}
    put_model(store, "acme/second")
    assert list(manifest_of(tmp_path / "vault")) == [
        "huggingface::acme/second",
        "huggingface::acme/widget-7b",
    ]


def test_a_vault_moved_with_its_index_gets_a_manifest_with_the_paths_where_it_is_now(
    tmp_path: Path,
) -> None:
    devon = make_devon(tmp_path / "vault")
    devon.download("acme/widget-7b")
    assert isinstance(devon.store, DiskModelStore)
    devon.store.close()
    moved = tmp_path / "mounted" / "elsewhere"
    moved.parent.mkdir()
    os.rename(tmp_path / "vault", moved)

    DiskModelStore(moved).close()  # any command opening it, say `devon list`

    assert [m["path"] for m in kitt_read_manifest(moved)] == [
        str(moved / "huggingface" / "acme" / "widget-7b")
    ]


def test_a_manifest_that_cannot_be_rewritten_never_stops_the_vault_opening(
    tmp_path: Path,
) -> None:
    devon = make_devon(tmp_path / "vault")
    devon.download("acme/widget-7b")
    assert isinstance(devon.store, DiskModelStore)
    devon.store.close()
    (tmp_path / "vault" / "manifest.json").unlink()
    (tmp_path / "vault" / "manifest.json" / "in-the-way").mkdir(parents=True)

    store = DiskModelStore(tmp_path / "vault")

    assert [m.model_id for m in store.list()] == ["acme/widget-7b"]


# -- written only when something changed, and only what changed (ADR 0211) -------------


def file_identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def test_an_unchanged_vault_never_rewrites_the_manifest(tmp_path: Path) -> None:
    devon = make_devon(tmp_path / "vault")
    devon.download("acme/widget-7b")
    assert isinstance(devon.store, DiskModelStore)
    devon.store.close()
    manifest = tmp_path / "vault" / "manifest.json"
    before = file_identity(manifest)

    store = DiskModelStore(tmp_path / "vault")  # opening it
    store.scan(["huggingface"])  # a scan finding nothing new
    store.rebuild_index()  # re-deriving the same rows
    store.flush_manifest()
    store.close()

    assert file_identity(manifest) == before


def test_a_commit_splices_its_line_into_the_manifest_and_leaves_the_rest_as_it_was(
    tmp_path: Path,
) -> None:
    store = DiskModelStore(tmp_path / "vault")
    for i in range(20):
        put_model(store, f"acme/m{i:02}")
    before = (tmp_path / "vault" / "manifest.json").read_bytes()

    put_model(store, "acme/m05x")
    store.remove("huggingface", "acme/m10")

    assert store._manifest.last_written == "spliced"
    after = (tmp_path / "vault" / "manifest.json").read_bytes()
    assert after == render_index(store)
    assert set(before.splitlines()) - set(after.splitlines()) == {
        line for line in before.splitlines() if b'"huggingface::acme/m10"' in line
    }


def render_index(store: DiskModelStore) -> bytes:
    from devon_adapters.vault.manifest import render_manifest

    return render_manifest(store.root, store.index)


def test_a_manifest_someone_else_rewrote_is_rendered_whole_from_the_index(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    put_model(store, "acme/one")
    (tmp_path / "vault" / "manifest.json").write_text('{"huggingface::acme/zzz": {}}\n')

    put_model(store, "acme/two")

    assert store._manifest.last_written == "rendered"
    assert (tmp_path / "vault" / "manifest.json").read_bytes() == render_index(store)


def test_a_lost_stamp_costs_one_whole_rendering_and_no_rewrite_when_nothing_changed(
    tmp_path: Path,
) -> None:
    store = DiskModelStore(tmp_path / "vault")
    put_model(store, "acme/one")
    manifest = tmp_path / "vault" / "manifest.json"
    before = file_identity(manifest)
    (store.paths.state / "manifest-stamp.json").unlink()

    store._manifest.refresh()

    assert store._manifest.last_written == "unchanged"
    assert file_identity(manifest) == before
    put_model(store, "acme/two")
    assert store._manifest.last_written == "spliced"


def test_changes_another_process_made_are_spliced_in_too(tmp_path: Path) -> None:
    first = DiskModelStore(tmp_path / "vault")
    second = DiskModelStore(tmp_path / "vault")
    put_model(first, "acme/one")
    put_model(second, "acme/two")
    second.mark_used("huggingface", "acme/one", datetime.now(UTC))
    second.close()  # writes the pending last_used change

    put_model(first, "acme/three")

    assert first._manifest.last_written == "spliced"
    assert manifest_of(tmp_path / "vault") == index_view(first)
    assert manifest_of(tmp_path / "vault")["huggingface::acme/one"]["last_used"] is not None


READER = """
import json, sys, time
from pathlib import Path
path, stop = Path(sys.argv[1]), Path(sys.argv[2])
reads = 0
while not stop.exists():
    data = json.loads(path.read_bytes())   # raises on a torn or partial file
    assert all(key.startswith("huggingface::acme/") for key in data), data
    reads += 1
print(reads)
"""


def test_a_process_reading_the_manifest_while_commits_splice_it_always_reads_a_whole_file(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    store = DiskModelStore(tmp_path / "vault")
    for i in range(300):
        put_model(store, f"acme/base-{i:03}", {"w.safetensors": b"w"})
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(tmp_path / "vault" / "manifest.json"), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for i in range(40):
            put_model(store, f"acme/new-{i:02}", {"w.safetensors": bytes(i)})
            assert store._manifest.last_written == "spliced"
            if i % 2:
                store.remove("huggingface", f"acme/base-{i:03}")
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    assert int(out) > 0
    assert manifest_of(tmp_path / "vault") == index_view(store)
