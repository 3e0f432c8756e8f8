"""The real `devon` command, run in a child process with pipes (as a script or CI runs it),
against a temporary vault and the test hub: output, `--json` shapes and exit codes."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from devon_testhub import TestHub
from tests.support import http_spec_examples as spec
from tests.support.cli_process import COMMAND, Finished, cli_env, run_piped

TINY = "tinyco/Tiny-0.5B-Instruct"


class Devon:
    """`devon` on one vault, against the test hub."""

    def __init__(self, vault: Path, hub: TestHub) -> None:
        self.vault = vault
        self.env = cli_env(vault, hub.url)

    def __call__(self, *args: str, stdin: str = "") -> Finished:
        return run_piped(self.env, *args, stdin=stdin)

    def model_path(self, model_id: str = TINY) -> str:
        return str(self.vault / "huggingface" / model_id)


def assert_one_line_error(result: Finished, code: int) -> None:
    """Exit `code`, and stderr ends with the one line saying what went wrong."""
    assert result.code == code, result
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("error: "), result.stderr
    assert sum(line.startswith("error") for line in lines) == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def devon(tmp_path: Path, test_hub: TestHub) -> Devon:
    """An empty vault."""
    return Devon(tmp_path / "vault", test_hub)


@pytest.fixture(scope="module")
def stocked(
    tmp_path_factory: pytest.TempPathFactory, session_test_hub: TestHub
) -> tuple[Devon, Finished]:
    """A vault holding TINY, shared by the tests that only read it; and its download's run."""
    devon = Devon(tmp_path_factory.mktemp("stocked") / "vault", session_test_hub)
    downloaded = devon("download", TINY)
    assert downloaded.code == 0, downloaded
    return devon, downloaded


@pytest.fixture
def one_model(devon: Devon) -> Devon:
    """A vault of its own holding TINY, for tests that change it."""
    assert devon("download", TINY).code == 0
    return devon


def test_download_ends_with_a_one_line_summary_and_no_progress_bar_when_piped(
    stocked: tuple[Devon, Finished],
) -> None:
    devon, result = stocked
    summary = rf"Downloaded {TINY}: \d+ files, [\d.]+ [KM]?i?B in [\d.]+ s → {devon.model_path()}\n"
    assert re.fullmatch(summary, result.stdout)
    assert result.stderr == f"Downloading {TINY} from huggingface...\n"


def test_download_of_a_present_model_says_it_is_already_there(
    stocked: tuple[Devon, Finished],
) -> None:
    devon, _ = stocked
    result = devon("download", f"https://huggingface.co/{TINY}")
    assert result.code == 0
    assert result.stdout.startswith(f"{TINY} is already in the vault: ")
    assert "--force" in result.stdout


def test_download_json_has_the_api_response_fields(stocked: tuple[Devon, Finished]) -> None:
    devon, _ = stocked
    body = json.loads(devon("download", TINY, "--json").stdout)
    assert set(body) == set(spec.DOWNLOADED)
    assert body["path"] == devon.model_path()
    assert "model.safetensors" in body["files"]


def test_list_shows_the_vault_without_colour_when_piped(stocked: tuple[Devon, Finished]) -> None:
    devon, _ = stocked
    result = devon("list")
    assert result.code == 0
    assert TINY in result.stdout
    assert "1 model, " in result.stdout
    assert "\x1b[" not in result.stdout


def test_list_and_status_json_have_the_api_response_fields(
    stocked: tuple[Devon, Finished],
) -> None:
    devon, _ = stocked
    listed = json.loads(devon("list", "--json").stdout)
    status = json.loads(devon("status", "--json").stdout)
    assert set(listed) == set(spec.MODELS)
    assert set(listed["models"][0]) == set(spec.LOCAL_MODEL)
    assert set(status) == set(spec.STATUS)
    assert status["storage_path"] == str(devon.vault)
    assert status["sources"]["huggingface"]["count"] == 1


def test_export_prints_kitts_file_and_writes_it_with_o(
    stocked: tuple[Devon, Finished], tmp_path: Path
) -> None:
    devon, _ = stocked
    target = tmp_path / "models.txt"
    printed = devon("export")
    written = devon("export", "-o", str(target))
    assert printed.stdout == f"{devon.model_path()}\n"
    assert (written.code, written.stdout) == (0, "")
    assert target.read_text() == printed.stdout


def test_export_json_has_the_api_response_fields(stocked: tuple[Devon, Finished]) -> None:
    devon, _ = stocked
    body = json.loads(devon("export", "--format", "json", "--json").stdout)
    assert set(body) == set(spec.EXPORT_JSON)
    assert body["format"] == "json"
    assert set(body["content"][0]) == set(spec.EXPORT_JSON["content"][0])


def test_info_of_a_hub_url_shows_local_and_remote_details(
    stocked: tuple[Devon, Finished],
) -> None:
    devon, _ = stocked
    result = devon("info", f"https://huggingface.co/{TINY}/tree/main")
    assert result.code == 0
    assert "In the vault" in result.stdout
    assert devon.model_path() in result.stdout
    assert "mit" in result.stdout


def test_info_json_has_the_api_response_fields(stocked: tuple[Devon, Finished]) -> None:
    devon, _ = stocked
    body = json.loads(devon("info", TINY, "--json").stdout)
    assert set(body) == set(spec.INFO)
    # The quantisations held are the one field issue 31 adds to the spec's local model.
    assert set(body["local"]) == set(spec.LOCAL_MODEL) | {"quantizations"}
    assert set(body["remote"]) == set(spec.REMOTE_MODEL)


def test_search_shows_matching_models_in_a_table(devon: Devon) -> None:
    result = devon("search", "tiny", "--params", "<1b")
    assert result.code == 0
    assert "Tiny-0.5B-Instruct" in result.stdout
    assert "500M" in result.stdout


def test_search_json_has_the_api_response_fields(devon: Devon) -> None:
    body = json.loads(devon("search", "--format", "gguf", "--limit", "3", "--json").stdout)
    assert set(body) == set(spec.SEARCH)
    assert 1 <= body["count"] <= 3
    assert all(set(result) == set(spec.REMOTE_MODEL) for result in body["results"])


def test_remove_of_a_missing_model_exits_1(devon: Devon) -> None:
    assert_one_line_error(devon("remove", TINY, "--yes"), 1)


def test_list_of_an_unknown_source_is_bad_usage(devon: Devon) -> None:
    result = devon("list", "--source", "modelscope")
    assert_one_line_error(result, 2)
    assert "Unknown source 'modelscope'" in result.stderr


def test_a_mistyped_command_is_answered_with_the_closest_command(devon: Devon) -> None:
    result = devon("lsit")
    assert_one_line_error(result, 2)
    assert "No such command 'lsit'. Did you mean 'list'?" in result.stderr


def test_list_json_of_an_unknown_source_prints_only_the_error_object_on_stdout(
    devon: Devon,
) -> None:
    result = devon("list", "--json", "--source", "modelscope")
    assert_one_line_error(result, 2)
    assert json.loads(result.stdout)["error"] == "invalid_input"  # no half listing before it


def test_download_of_an_unknown_model_exits_1_and_leaves_the_vault_empty(devon: Devon) -> None:
    assert_one_line_error(devon("download", "nobody/no-such-model"), 1)
    assert json.loads(devon("list", "--json").stdout)["count"] == 0


def test_an_unreachable_hub_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "vault", "http://127.0.0.1:9")  # the discard port: nothing listens
    assert_one_line_error(run_piped(env, "info", TINY), 1)


@pytest.mark.parametrize(
    "args",
    [
        ("frobnicate",),
        ("search", "--limit", "0"),
        ("download", "bad..id"),
        ("clean", "--unused", "--days", "-3"),
    ],
    ids=["unknown-command", "limit-out-of-range", "invalid-model-id", "negative-days"],
)
def test_bad_usage_exits_2_with_one_line(devon: Devon, args: tuple[str, ...]) -> None:
    assert_one_line_error(devon(*args), 2)


def test_remove_refuses_without_yes_when_stdin_is_not_a_terminal(one_model: Devon) -> None:
    refused = one_model("remove", TINY)
    assert_one_line_error(refused, 2)
    assert "--yes" in refused.stderr
    assert json.loads(one_model("list", "--json").stdout)["count"] == 1


def test_remove_with_yes_deletes_and_reports_like_the_api(one_model: Devon) -> None:
    body = json.loads(one_model("remove", TINY, "--yes", "--json").stdout)
    assert set(body) == set(spec.DELETED)
    assert body["deleted"] is True
    assert not Path(one_model.model_path()).exists()


def test_clean_refuses_without_yes_when_stdin_is_not_a_terminal(one_model: Devon) -> None:
    refused = one_model("clean", "--all")
    assert_one_line_error(refused, 2)
    assert "--yes" in refused.stderr
    assert json.loads(one_model("list", "--json").stdout)["count"] == 1


def test_clean_all_with_yes_removes_every_model(one_model: Devon) -> None:
    body = json.loads(one_model("clean", "--all", "--yes", "--json").stdout)
    assert set(body) == set(spec.CLEANED)
    assert body["models"] == [f"huggingface/{TINY}"]
    assert body["dry_run"] is False
    assert json.loads(one_model("list", "--json").stdout)["count"] == 0


def test_clean_dry_run_shows_what_would_go_and_keeps_it(stocked: tuple[Devon, Finished]) -> None:
    devon, _ = stocked
    result = devon("clean", "--all", "--dry-run")
    assert result.code == 0
    assert f"huggingface/{TINY}" in result.stdout
    assert "nothing removed" in result.stdout
    assert json.loads(devon("list", "--json").stdout)["count"] == 1


def test_version_prints_the_package_version(devon: Devon) -> None:
    result = devon("--version")
    assert re.fullmatch(r"devon \d+\.\d+\.\d+\S*\n", result.stdout)


def test_serve_answers_the_http_api_on_the_given_port(devon: Devon) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*COMMAND, "serve", "--port", str(port)],
        env=devon.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        status = wait_for_json(f"http://127.0.0.1:{port}/api/v1/status")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert status["storage_path"] == str(devon.vault)


def wait_for_json(url: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=5).json()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_doctor_passes_when_the_vault_opens_and_the_hub_answers(devon: Devon) -> None:
    result = devon("doctor")
    assert result.code == 0, result
    assert "source huggingface  ok: answers at http://127.0.0.1:" in result.stdout


def test_doctor_fails_with_exit_1_when_the_hub_is_unreachable(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "vault", "http://127.0.0.1:9")
    result = run_piped(env, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert result.code == 1
    assert checks["vault"]["ok"] is True
    assert checks["source huggingface"]["ok"] is False
