"""The real `devon` command (child process, pipes): ids it prints are accepted back, the
one id column, `ls`/`rm`, partial downloads in `status` and `clean --partial`,
`rebuild-index --json`, and "last used" agreeing with `clean --unused`."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from devon_adapters.vault.locks import model_lock
from devon_testhub import TestHub
from tests.support.cli_process import COMMAND, Finished, cli_env, run_piped

TINY = "tinyco/Tiny-0.5B-Instruct"
SHARDY = "acme/shardy-7b"


class Devon:
    def __init__(self, vault: Path, hub_url: str) -> None:
        self.vault = vault
        self.env = cli_env(vault, hub_url)

    def __call__(self, *args: str) -> Finished:
        return run_piped(self.env, *args)

    def ids(self) -> list[str]:
        return [m["model_id"] for m in json.loads(self("list", "--json").stdout)["models"]]

    def staging(self, model_id: str = TINY) -> Path:
        return self.vault / ".devon" / "staging" / "huggingface" / model_id


@pytest.fixture
def devon(tmp_path: Path, test_hub: TestHub) -> Devon:
    return Devon(tmp_path / "vault", test_hub.url)


@pytest.fixture
def stocked(devon: Devon) -> Devon:
    assert devon("download", TINY).code == 0
    return devon


def test_remove_accepts_the_id_as_clean_and_remove_print_it(stocked: Devon) -> None:
    result = stocked("remove", f"huggingface/{TINY}", "--yes")
    assert result.code == 0, result
    assert result.stdout == f"Removed huggingface/{TINY}.\n"
    assert stocked.ids() == []


def test_info_accepts_the_printed_id(stocked: Devon) -> None:
    result = stocked("info", f"huggingface/{TINY}")
    assert result.code == 0, result
    assert "In the vault" in result.stdout


def test_rm_and_ls_are_aliases(stocked: Devon) -> None:
    listed = stocked("ls")
    assert listed.code == 0
    assert TINY in listed.stdout
    assert stocked("rm", TINY, "--yes").code == 0
    assert stocked.ids() == []


def test_removing_a_near_miss_id_suggests_the_one_in_the_vault(stocked: Devon) -> None:
    result = stocked("rm", "tinyco/Tiny-0.5b-Instruct", "--yes")
    assert result.code == 1
    assert f"(did you mean {TINY}?)" in result.stderr


def test_list_shows_the_download_as_the_last_use_clean_goes_by(stocked: Devon) -> None:
    row = next(line for line in stocked("list").stdout.splitlines() if line.startswith(TINY))
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d \(added\)$", row.rstrip())
    assert "never" not in row
    assert json.loads(stocked("list", "--json").stdout)["models"][0]["last_used"] is None


def test_clean_help_and_list_agree_that_a_download_is_a_use(devon: Devon) -> None:
    assert "counts as used when it is downloaded" in " ".join(
        devon("clean", "--help").stdout.split()
    )
    assert "(added)" in devon("list", "--help").stdout


def test_the_id_column_is_whole_on_one_line_in_a_narrow_terminal(
    tmp_path: Path, test_hub: TestHub
) -> None:
    narrow = cli_env(tmp_path / "vault", test_hub.url) | {"COLUMNS": "40"}
    assert run_piped(narrow, "download", TINY).code == 0
    listed = run_piped(narrow, "list").stdout.splitlines()
    assert listed[0].split()[0] == "id"
    assert listed[1].split()[0] == TINY
    found = run_piped(narrow, "search", "shardy").stdout.splitlines()
    assert found[0].split()[:2] == ["id", "params"]
    assert found[1].split()[0] == SHARDY


def test_rebuild_index_answers_json(stocked: Devon) -> None:
    result = stocked("rebuild-index", "--json")
    assert result.code == 0
    assert json.loads(result.stdout) == {"model_count": 1, "storage_path": str(stocked.vault)}


def interrupted_download(env: dict[str, str], vault: Path, hub: TestHub) -> None:
    """Start downloading TINY, wait until staging holds its small files while the weights
    hang, then press Ctrl-C: what arrived stays in staging."""
    hub.faults.hang("model.safetensors")
    process = subprocess.Popen([*COMMAND, "download", TINY], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any((vault / ".devon" / "staging").rglob("config.json")):
        assert time.monotonic() < deadline, "the download never staged a file"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 130
    hub.faults.release()


def test_status_shows_bytes_an_interrupted_download_holds_and_clean_partial_frees_them(
    tmp_path: Path,
) -> None:
    with TestHub() as hub:  # of its own: its hanging requests must not meet other tests
        devon = Devon(tmp_path / "vault", hub.url)
        interrupted_download(devon.env, devon.vault, hub)
        held = sum(p.stat().st_size for p in devon.staging().rglob("*") if p.is_file())
        status = json.loads(devon("status", "--json").stdout)
        assert status["staging_bytes"] == held > 0
        assert "devon clean --partial" in devon("status").stdout

        cleaned = devon("clean", "--partial", "--yes")
        assert cleaned.code == 0, cleaned
        assert cleaned.stdout.startswith("Removed 1 unfinished download, freed ")
        assert json.loads(devon("status", "--json").stdout)["staging_bytes"] == 0
        assert not devon.staging().exists()
        assert devon("download", TINY).code == 0


def test_clean_partial_dry_run_lists_what_it_would_remove(tmp_path: Path) -> None:
    with TestHub() as hub:
        devon = Devon(tmp_path / "vault", hub.url)
        interrupted_download(devon.env, devon.vault, hub)
        result = devon("clean", "--partial", "--dry-run")
        assert f"huggingface/{TINY}" in result.stdout
        assert "Dry run: nothing removed." in result.stdout
        assert devon.staging().exists()


def test_clean_partial_leaves_the_staging_of_a_running_download(devon: Devon) -> None:
    assert devon("status").code == 0  # creates the vault
    devon.staging().mkdir(parents=True)
    (devon.staging() / "config.json").write_text("{}")
    lock = model_lock(devon.vault / ".devon" / "locks", "huggingface", TINY)
    with lock:  # as a download running in another process holds it
        result = devon("clean", "--partial", "--yes")
    assert result.code == 0
    assert result.stdout == "Nothing to clean.\n"
    assert (devon.staging() / "config.json").exists()


def _preallocated_partial(staging: Path, arrived: int, size: int) -> None:
    """A ranged `.part` as the transfer leaves it: the file's full size reserved on disk,
    its record naming the one span that arrived."""
    partial = staging / ".cache" / "devon" / "partial"
    partial.mkdir(parents=True)
    with (partial / "model.safetensors.part").open("wb") as part:
        part.write(b"x" * arrived)
        part.truncate(size)
    record = {"revision": "abc", "size": size, "sha256": None, "spans": [[0, arrived]]}
    (partial / "model.safetensors.part.json").write_text(json.dumps(record))


def test_status_counts_the_bytes_that_arrived_not_the_room_reserved(devon: Devon) -> None:
    assert devon("status").code == 0  # creates the vault
    _preallocated_partial(devon.staging(), 60 * 1024, 2 * 1024**2)

    status = json.loads(devon("status", "--json").stdout)
    text = devon("status").stdout

    assert status["partial_bytes"] < 62 * 1024
    assert status["staging_bytes"] >= 2 * 1024**2
    assert re.search(r"partial downloads\s+60\.\d KiB arrived \(2\.0 MiB on disk", text)


def test_clean_partial_dry_run_shows_each_download_s_bytes(devon: Devon) -> None:
    assert devon("status").code == 0
    _preallocated_partial(devon.staging(), 60 * 1024, 2 * 1024**2)

    result = devon("clean", "--partial", "--dry-run")

    assert re.search(rf"huggingface/{TINY}\s+60\.\d KiB arrived", result.stdout), result.stdout
