"""`scan`: model folders placed in the vault by hand become models like any other."""

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from devon_adapters import DiskModelStore
from devon_app import Settings, build_devon
from devon_core import Devon, InvalidInput, ScanMove, ScanSkip
from tests.support.file_source import FileSource
from tests.support.weights import gguf_bytes, kitt_read_manifest, safetensors_bytes

CONFIG = json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}).encode()
SAFETENSORS = safetensors_bytes({"embed": [100, 20], "lm_head": [20, 100], "norm": [20]})


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return tmp_path / "vault"


@pytest.fixture
def devon(vault: Path) -> Devon:
    return build_devon(Settings(storage_path=vault), sources=[FileSource()])


def place(folder: Path, files: Mapping[str, bytes]) -> Path:
    for relative, data in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def test_a_folder_under_a_source_is_registered_as_that_source_with_inferred_metadata(
    devon: Devon, vault: Path
) -> None:
    folder = place(
        vault / "huggingface" / "me" / "my-finetune-AWQ",
        {
            "config.json": CONFIG,
            "model.safetensors": SAFETENSORS,
            "README.md": b"---\nlicense: apache-2.0\n---\n# my fine-tune\n",
        },
    )

    result = devon.scan()

    assert result.registered == ("huggingface/me/my-finetune-AWQ",)
    model = devon.get("me/my-finetune-AWQ")
    assert model is not None
    assert model.path == str(folder)
    assert model.files == ("README.md", "config.json", "model.safetensors")
    assert model.size_bytes == sum(p.stat().st_size for p in folder.iterdir())
    assert model.metadata == {
        "format": ["safetensors"],
        "architecture": "llama",
        "quantization": "AWQ",
        "parameter_count": 4.0e-06,  # 2,000 + 2,000 + 20 weights, two significant digits
        "license": "apache-2.0",
        "inferred": True,
    }


def test_a_folder_anywhere_else_becomes_a_local_model_where_it_is_listed_exported_and_removed(
    devon: Devon, vault: Path
) -> None:
    place(vault / "my-finetune", {"model-Q4_K_M.gguf": gguf_bytes("qwen2", {"w": [10, 10]})})

    result = devon.scan()

    assert result.registered == ("local/my-finetune",)
    assert result.moved == ()
    assert (vault / "my-finetune" / "model-Q4_K_M.gguf").is_file()
    assert not (vault / "local").exists()
    model = devon.get("my-finetune", source="local")
    assert model is not None
    assert model.path == str(vault / "my-finetune")
    assert model.metadata["architecture"] == "qwen2"
    assert model.metadata["quantization"] == "Q4_K_M"
    assert model.metadata["parameter_count"] == 1e-07
    assert model.metadata["folder"] == "my-finetune"
    assert [m.key for m in devon.list(source="local")] == ["local/my-finetune"]
    assert devon.export("kitt").paths == (model.path,)
    assert kitt_read_manifest(vault)[0]["key"] == "local::my-finetune"
    assert kitt_read_manifest(vault)[0]["path"] == str(vault / "my-finetune")
    devon.remove("my-finetune", source="local")
    assert devon.list() == []
    assert not (vault / "my-finetune").exists()


def test_clean_all_keeps_a_local_model_and_says_so(devon: Devon, vault: Path) -> None:
    place(vault / "old-model", {"weights.bin": b"w" * 10})
    devon.download("acme/widget-7b")
    devon.scan()

    result = devon.clean(all=True)

    assert result.models == ("huggingface/acme/widget-7b",)
    assert result.skipped_local == ("local/old-model",)
    assert (vault / "old-model" / "weights.bin").is_file()
    assert [m.key for m in devon.list()] == ["local/old-model"]


def test_clean_all_with_source_local_removes_the_local_models_only(
    devon: Devon, vault: Path
) -> None:
    place(vault / "old-model", {"weights.bin": b"w" * 10})
    devon.download("acme/widget-7b")
    devon.scan()

    result = devon.clean(all=True, source="local")

    assert result.models == ("local/old-model",)
    assert result.skipped_local == ()
    assert not (vault / "old-model").exists()
    assert [m.key for m in devon.list()] == ["huggingface/acme/widget-7b"]


def test_info_of_a_local_model_marks_it_used(devon: Devon, vault: Path) -> None:
    place(vault / "mine", {"weights.pt": b"w"})
    devon.scan()

    info = devon.info("mine", source="local")

    assert info.remote is None
    assert info.local is not None
    assert info.local.last_used is not None


def test_the_local_source_refuses_to_download_with_a_clear_message(devon: Devon) -> None:
    with pytest.raises(InvalidInput, match="placed in the vault by hand"):
        devon.download("anything", source="local")


def test_an_empty_local_source_lists_nothing_rather_than_failing(devon: Devon) -> None:
    assert devon.list(source="local") == []


def test_a_half_written_folder_is_skipped_and_reported_then_registered_once_complete(
    devon: Devon, vault: Path
) -> None:
    folder = place(
        vault / "huggingface" / "me" / "copying",
        {"config.json": CONFIG, "model.safetensors.part": b"half"},
    )

    first = devon.scan()

    assert first.registered == ()
    assert first.skipped == (
        ScanSkip(
            str(folder),
            "still being written (model.safetensors.part): scan again once it is complete",
        ),
    )
    assert devon.list() == []
    (folder / "model.safetensors.part").rename(folder / "model.safetensors")
    assert devon.scan().registered == ("huggingface/me/copying",)


def test_a_folder_huggingface_hub_is_still_downloading_into_is_skipped(
    devon: Devon, vault: Path
) -> None:
    place(
        vault / "huggingface" / "me" / "fetching",
        {
            "config.json": CONFIG,
            "model-00001-of-00002.safetensors": SAFETENSORS,
            ".cache/huggingface/download/model-00002-of-00002.safetensors.lock": b"",
            ".cache/huggingface/download/aGFsZg.model-00002-of-00002.safetensors.incomplete": b"",
        },
    )

    result = devon.scan()

    assert result.registered == ()
    assert "still being written" in result.skipped[0].reason


def test_a_folder_without_a_model_file_is_skipped_and_left_in_place(
    devon: Devon, vault: Path
) -> None:
    folder = place(vault / "notes", {"README.md": b"# my notes"})

    result = devon.scan()

    assert result.skipped == (
        ScanSkip(str(folder), "holds no model file (.safetensors, .gguf, .bin, .pt, .onnx...)"),
    )
    assert (folder / "README.md").exists()
    assert devon.list() == []


def test_a_scan_leaves_downloaded_models_alone(devon: Devon, vault: Path) -> None:
    downloaded = devon.download("acme/widget-7b")

    result = devon.scan()

    assert result.registered == ()
    assert result.skipped == ()
    assert devon.get("acme/widget-7b") == downloaded


def test_reconcile_drops_models_whose_folder_is_gone(devon: Devon, vault: Path) -> None:
    devon.download("acme/widget-7b")
    devon.download("acme/gadget-1b")
    os.rename(vault / "huggingface" / "acme" / "gadget-1b", vault / "moved-away")

    plain = devon.scan()
    reconciled = devon.scan(reconcile=True)

    assert plain.dropped == ()
    assert reconciled.dropped == ("huggingface/acme/gadget-1b",)
    assert [m.key for m in devon.list()] == ["huggingface/acme/widget-7b", "local/moved-away"]
    assert plain.registered == ("local/moved-away",)
    assert [m["key"] for m in kitt_read_manifest(vault)] == [
        "huggingface::acme/widget-7b",
        "local::moved-away",
    ]


def test_a_folder_whose_local_name_is_taken_is_skipped(devon: Devon, vault: Path) -> None:
    place(vault / "local" / "twin", {"a.gguf": b"GGUF"})
    devon.scan()
    again = place(vault / "twin", {"b.gguf": b"GGUF"})

    result = devon.scan()

    assert result.registered == ()
    assert result.skipped[0].path == str(again)
    assert result.skipped[0].reason == "local/twin is already in the vault"


def test_parameters_come_from_config_json_when_it_states_them(devon: Devon, vault: Path) -> None:
    config = json.dumps({"model_type": "gpt2", "num_parameters": 124_439_808}).encode()
    place(vault / "gpt2-copy", {"config.json": config, "pytorch_model.bin": b"w"})

    devon.scan()

    model = devon.get("gpt2-copy", source="local")
    assert model is not None
    assert model.metadata["parameter_count"] == 0.12
    assert model.metadata["format"] == ["pytorch"]


def test_a_damaged_weights_header_yields_no_parameter_count(devon: Devon, vault: Path) -> None:
    place(vault / "broken-7B", {"model.safetensors": b"\xff" * 16, "x.gguf": b"GGUF\x09"})

    devon.scan()

    model = devon.get("broken-7B", source="local")
    assert model is not None
    assert model.metadata["parameter_count"] == 7.0  # from the folder's name


def test_scan_in_two_processes_at_once_registers_each_folder_once(vault: Path) -> None:
    import subprocess
    import sys

    for i in range(6):
        place(vault / f"hand-{i}", {"w.gguf": b"GGUF"})
    DiskModelStore(vault).close()
    script = (
        "import sys; from pathlib import Path; from devon_app import Settings, build_devon;"
        "print(build_devon(Settings(storage_path=Path(sys.argv[1])), sources=[]).scan())"
    )
    repo = Path(__file__).resolve().parents[2]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(vault)],
            cwd=repo,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err

    store = DiskModelStore(vault)
    assert [m.key for m in store.list()] == [f"local/hand-{i}" for i in range(6)]
    manifest = json.loads((vault / "manifest.json").read_text())
    assert sorted(manifest) == [f"local::hand-{i}" for i in range(6)]


def test_an_index_rebuild_leaves_out_a_folder_still_being_written(vault: Path) -> None:
    store = DiskModelStore(vault)
    place(
        vault / "huggingface" / "me" / "copying",
        {"model-1.safetensors": SAFETENSORS, "model-2.safetensors.part": b"half"},
    )

    assert store.rebuild_index() == 0


def test_a_mount_points_lost_and_found_is_not_reported(devon: Devon, vault: Path) -> None:
    (vault / "lost+found").mkdir()

    assert devon.scan().skipped == ()


def test_an_owner_folder_outside_the_sources_keeps_its_owner_and_its_place(
    devon: Devon, vault: Path
) -> None:
    place(vault / "team" / "model-a", {"a.safetensors": SAFETENSORS})
    place(vault / "team" / "model-b", {"b.gguf": gguf_bytes("llama", {"w": [2, 2]})})

    result = devon.scan()

    assert result.registered == ("local/team/model-a", "local/team/model-b")
    assert [m.path for m in devon.list()] == [
        str(vault / "team" / "model-a"),
        str(vault / "team" / "model-b"),
    ]
    assert (vault / "team" / "model-b" / "b.gguf").is_file()


def test_with_move_an_owner_folder_moves_under_local_and_each_move_is_reported(
    devon: Devon, vault: Path
) -> None:
    place(vault / "team" / "model-a", {"a.safetensors": SAFETENSORS})
    place(vault / "team" / "model-b", {"b.gguf": gguf_bytes("llama", {"w": [2, 2]})})

    result = devon.scan(move=True)

    assert result.registered == ("local/team/model-a", "local/team/model-b")
    assert result.moved == (
        ScanMove(
            "local/team/model-a",
            str(vault / "team" / "model-a"),
            str(vault / "local" / "team" / "model-a"),
        ),
        ScanMove(
            "local/team/model-b",
            str(vault / "team" / "model-b"),
            str(vault / "local" / "team" / "model-b"),
        ),
    )
    assert (vault / "local" / "team" / "model-b" / "b.gguf").is_file()
    assert not (vault / "team").exists()
    model = devon.get("team/model-a", source="local")
    assert model is not None
    assert model.path == str(vault / "local" / "team" / "model-a")
    assert "folder" not in model.metadata


def test_a_finished_huggingface_hub_download_with_its_lock_files_is_registered(
    devon: Devon, vault: Path
) -> None:
    place(
        vault / "huggingface" / "me" / "fetched",
        {
            "config.json": CONFIG,
            "model.safetensors": SAFETENSORS,
            ".cache/huggingface/download/model.safetensors.lock": b"",
            ".cache/huggingface/download/model.safetensors.metadata": b"abc\n123\n1.0\n",
        },
    )

    result = devon.scan()

    assert result.registered == ("huggingface/me/fetched",)
    model = devon.get("me/fetched")
    assert model is not None
    assert model.files == ("config.json", "model.safetensors")


def test_packed_quantised_weights_defer_to_the_size_in_the_name(devon: Devon, vault: Path) -> None:
    packed = safetensors_bytes({"qweight": [64, 8]}, dtype="I32")
    place(vault / "Qwen2.5-7B-Instruct-AWQ", {"model.safetensors": packed})

    devon.scan()

    model = devon.get("Qwen2.5-7B-Instruct-AWQ", source="local")
    assert model is not None
    assert model.metadata["parameter_count"] == 7.0
    assert model.metadata["quantization"] == "AWQ"


def test_a_folder_that_cannot_be_moved_is_reported_left_in_place_and_the_scan_goes_on(
    devon: Devon, vault: Path
) -> None:
    devon.list()  # the vault exists
    (vault / "local").write_bytes(b"not a folder")  # so nothing can be moved under local/
    stuck = place(vault / "my-finetune", {"model.gguf": b"GGUF"})
    place(vault / "huggingface" / "me" / "merge", {"model.gguf": b"GGUF"})

    result = devon.scan(move=True)

    assert result.registered == ("huggingface/me/merge",)
    assert [skip.path for skip in result.skipped] == [str(stuck)]
    assert result.skipped[0].reason.startswith(
        f"could not be moved to {vault / 'local' / 'my-finetune'} ("
    )
    assert (stuck / "model.gguf").read_bytes() == b"GGUF"
    assert [m["key"] for m in kitt_read_manifest(vault)] == ["huggingface::me/merge"]


def _bind_mount(source: Path, target: Path) -> None:
    target.mkdir(parents=True)
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "--bind", str(source), str(target)], capture_output=True, check=False
        ).returncode
    ):
        pytest.skip("needs the right to mount (the cannot-move case is covered without it)")


def test_a_folder_that_is_a_mount_point_is_reported_and_left_where_it_is(
    devon: Devon, vault: Path, tmp_path: Path
) -> None:
    elsewhere = place(tmp_path / "other-disk", {"model.gguf": b"GGUF"})
    place(vault / "plain", {"model.gguf": b"GGUF"})
    _bind_mount(elsewhere, vault / "mounted")
    try:
        result = devon.scan(move=True)
        assert result.registered == ("local/plain",)
        assert [(s.path, s.reason.split(";")[0]) for s in result.skipped] == [
            (
                str(vault / "mounted"),
                f"could not be moved to {vault / 'local' / 'mounted'} "
                "(it is a mount point, or in use)",
            )
        ]
        assert (vault / "mounted" / "model.gguf").read_bytes() == b"GGUF"
    finally:
        subprocess.run(["umount", str(vault / "mounted")], check=False)


def test_a_link_to_a_folder_and_a_lone_model_file_at_the_root_are_reported_not_ignored(
    devon: Devon, vault: Path, tmp_path: Path
) -> None:
    devon.list()  # the vault exists
    elsewhere = place(tmp_path / "my-models" / "finetune", {"model.gguf": b"GGUF"})
    (vault / "finetune").symlink_to(elsewhere, target_is_directory=True)
    (vault / "loose.Q4_K_M.gguf").write_bytes(b"GGUF")

    result = devon.scan()

    assert result.registered == ()
    assert [(s.path, s.reason.split(",")[0].split(":")[0]) for s in result.skipped] == [
        (str(vault / "finetune"), "is a symbolic link"),
        (str(vault / "loose.Q4_K_M.gguf"), "is a model file directly in the vault's root"),
    ]
    assert (elsewhere / "model.gguf").read_bytes() == b"GGUF"
    assert (vault / "loose.Q4_K_M.gguf").is_file()


# -- where scan may write: never outside the vault, never a move unless asked ------------


def test_with_local_linked_outside_hand_placed_folders_are_registered_where_they_are(
    devon: Devon, vault: Path, tmp_path: Path
) -> None:
    devon.list()  # the vault exists
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (vault / "local").symlink_to(outside, target_is_directory=True)
    place(vault / "finetune-a", {"model.gguf": b"GGUF"})
    place(vault / "finetune-b", {"model.safetensors": SAFETENSORS})

    result = devon.scan()

    assert result.registered == ("local/finetune-a", "local/finetune-b")
    assert [s.path for s in result.skipped] == [str(vault / "local")]
    assert list(outside.iterdir()) == []
    assert [m.path for m in devon.list()] == [str(vault / "finetune-a"), str(vault / "finetune-b")]
    devon.remove("finetune-a", source="local")
    assert not (vault / "finetune-a").exists()


def test_move_never_goes_through_a_local_linked_outside_the_vault(
    devon: Devon, vault: Path, tmp_path: Path
) -> None:
    devon.list()  # the vault exists
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (vault / "local").symlink_to(outside, target_is_directory=True)
    folder = place(vault / "finetune-a", {"model.gguf": b"GGUF"})

    result = devon.scan(move=True)

    assert result.registered == ()
    assert result.moved == ()
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons[str(folder)] == (
        f"not moved to {vault / 'local' / 'finetune-a'}: it resolves outside the vault, "
        f"to {outside.resolve() / 'finetune-a'}; it is left where it is"
    )
    assert list(outside.iterdir()) == []
    assert (folder / "model.gguf").read_bytes() == b"GGUF"
    assert devon.list() == []


def test_move_never_goes_through_a_link_inside_the_vault_either(devon: Devon, vault: Path) -> None:
    devon.list()  # the vault exists
    (vault / "huggingface").mkdir()
    (vault / "local").symlink_to(vault / "huggingface", target_is_directory=True)
    folder = place(vault / "finetune-a", {"model.gguf": b"GGUF"})

    result = devon.scan(move=True)

    assert result.registered == ()
    assert "a symbolic link on the way" in {s.path: s.reason for s in result.skipped}[str(folder)]
    assert list((vault / "huggingface").iterdir()) == []


def test_a_dry_run_says_what_would_be_registered_moved_and_dropped_and_changes_nothing(
    devon: Devon, vault: Path
) -> None:
    devon.download("acme/widget-7b")
    place(vault / "mine", {"model.gguf": b"GGUF"})
    place(vault / "huggingface" / "me" / "merge", {"model.gguf": b"GGUF"})
    widget = vault / "huggingface" / "acme" / "widget-7b"
    for path in sorted(widget.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    widget.rmdir()
    manifest_before = (vault / "manifest.json").read_bytes()

    result = devon.scan(move=True, reconcile=True, dry_run=True)

    assert result.dry_run
    assert result.registered == ("huggingface/me/merge", "local/mine")
    assert result.moved == (ScanMove("local/mine", str(vault / "mine"), str(vault / "local/mine")),)
    assert result.dropped == ("huggingface/acme/widget-7b",)
    assert [m.key for m in devon.list()] == ["huggingface/acme/widget-7b"]
    assert (vault / "mine" / "model.gguf").is_file()
    assert not (vault / "local").exists()
    assert (vault / "manifest.json").read_bytes() == manifest_before


def test_reconcile_drops_a_hand_placed_model_deleted_where_it_was_placed(
    devon: Devon, vault: Path
) -> None:
    folder = place(vault / "scratch" / "try-1", {"model.gguf": b"GGUF"})
    assert devon.scan().registered == ("local/scratch/try-1",)
    (folder / "model.gguf").unlink()
    folder.rmdir()

    result = devon.scan(reconcile=True)

    assert result.dropped == ("local/scratch/try-1",)
    assert devon.list() == []
    assert kitt_read_manifest(vault) == []


def test_a_hand_placed_model_stays_listed_when_the_vault_is_opened_again(
    devon: Devon, vault: Path
) -> None:
    place(vault / "scratch" / "try-1", {"model.gguf": b"GGUF"})
    devon.scan()

    reopened = DiskModelStore(vault)

    assert [(m.key, m.path) for m in reopened.list()] == [
        ("local/scratch/try-1", str(vault / "scratch" / "try-1"))
    ]


def test_opening_the_vault_drops_a_hand_placed_model_whose_folder_is_gone(
    devon: Devon, vault: Path
) -> None:
    folder = place(vault / "try-1", {"model.gguf": b"GGUF"})
    devon.scan()
    (folder / "model.gguf").unlink()
    folder.rmdir()

    assert DiskModelStore(vault).list() == []


def test_an_index_rebuild_keeps_a_hand_placed_model_where_it_is(devon: Devon, vault: Path) -> None:
    place(vault / "team" / "model-a", {"a.safetensors": SAFETENSORS})
    devon.scan()
    store = DiskModelStore(vault)

    assert store.rebuild_index() == 1
    assert [(m.key, m.path) for m in store.list()] == [
        ("local/team/model-a", str(vault / "team" / "model-a"))
    ]


def test_a_lost_index_rebuilt_from_the_manifest_keeps_a_hand_placed_model_where_it_is(
    devon: Devon, vault: Path
) -> None:
    place(vault / "team" / "model-a", {"a.safetensors": SAFETENSORS})
    devon.scan()
    registered = devon.get("team/model-a", source="local")
    for name in ("index.sqlite3", "index.sqlite3-wal", "index.sqlite3-shm"):
        (vault / ".devon" / name).unlink(missing_ok=True)

    store = DiskModelStore(vault)

    assert store.list() == [registered]
