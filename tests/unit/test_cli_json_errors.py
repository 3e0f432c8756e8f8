"""`--json` commands that fail still answer JSON on stdout (issue 31, item 7): one object
`{"error": kind, "detail": message}`, with the exit code a failure always had."""

import json
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

from devon_cli import diagnostics
from devon_cli.context import CliContext
from devon_cli.main import cli
from devon_core import Devon
from tests.unit.fakes import FakeSource, MemoryStore, SettableClock, local_model, remote_model

Run = Callable[..., Result]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def run(store: MemoryStore) -> Iterator[Run]:
    source = FakeSource([remote_model("acme/widget-7b", files=(("model.safetensors", 10),))])
    devon = Devon(source=source, store=store, clock=SettableClock())

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(
            cli, list(args), obj=CliContext(lambda with_sources: devon), prog_name="devon"
        )

    yield invoke
    diagnostics.hand_over()


def test_a_failed_json_download_prints_an_error_object_on_stdout_and_exits_1(run: Run) -> None:
    result = run("download", "acme/Nope", "--json")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["error"] == "not_found"
    assert "acme/Nope" in body["detail"]


def test_a_json_usage_error_prints_an_error_object_and_keeps_exit_2(run: Run) -> None:
    result = run("clean", "--json")
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert body["error"] == "usage"
    assert "--unused" in body["detail"]


def test_a_failed_json_info_of_an_invalid_id_prints_an_error_object(run: Run) -> None:
    result = run("info", "../etc/passwd", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"] == "invalid_input"


def test_a_failed_command_without_json_keeps_stdout_empty(run: Run) -> None:
    result = run("download", "acme/Nope")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith("error: ")


def test_clean_dry_run_json_says_would_remove_not_removed(run: Run, store: MemoryStore) -> None:
    store.add(local_model("acme/widget-7b"))
    body = json.loads(run("clean", "--all", "--dry-run", "--json").stdout)
    assert body["would_remove"] == 1
    assert "removed" not in body
