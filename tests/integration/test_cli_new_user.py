"""What a new user saw go wrong at the terminal (issue 31), each as it should be."""

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from devon_cli import diagnostics
from devon_cli.context import CliContext
from devon_cli.main import cli
from devon_core import Devon
from tests.support.cli_in_process import Run, running_cli
from tests.support.fakes import FakeSource, MemoryStore, SettableClock, local_model, remote_model

GGUF = remote_model(
    "acme/Widget-8B-GGUF",
    files=(
        ("README.md", 100),
        ("Widget-8B-Q4_K_M.gguf", 4_000),
        ("Widget-8B-Q8_0.gguf", 8_000),
    ),
    format=("gguf",),
    quantization="Q4_K_M,Q8_0",
)


@pytest.fixture
def source() -> FakeSource:
    return FakeSource([GGUF])


@pytest.fixture
def store(source: FakeSource) -> MemoryStore:
    return MemoryStore(source.disk)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def run(source: FakeSource, store: MemoryStore, clock: SettableClock) -> Iterator[Run]:
    yield from running_cli(Devon(source=source, store=store, clock=clock))


def test_info_names_the_source_it_asked_when_none_is_given(run: Run) -> None:
    result = run("info", "acme/Widget-8B-GGUF")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "acme/Widget-8B-GGUF  (huggingface)"
    assert "On huggingface" in result.stdout
    assert "None" not in result.stdout


def test_adding_a_quantisation_reports_only_the_files_it_fetched(run: Run) -> None:
    run("download", "acme/Widget-8B-GGUF:Q4_K_M")
    result = run("download", "acme/Widget-8B-GGUF:Q8_0")
    assert result.exit_code == 0
    assert "Downloaded acme/Widget-8B-GGUF:Q8_0: 1 file, 7.8 KiB in" in result.stdout
    assert "now holds 2 files" in result.stdout


def test_dry_run_of_a_quantisation_not_yet_held_says_it_would_be_added(run: Run) -> None:
    run("download", "acme/Widget-8B-GGUF:Q4_K_M")
    result = run("download", "acme/Widget-8B-GGUF:Q8_0", "--dry-run")
    assert "would be added" in result.stdout
    assert "already holds" not in result.stdout


def test_adding_a_quantisation_later_moves_last_used_with_downloaded_at(
    run: Run, clock: SettableClock
) -> None:
    run("download", "acme/Widget-8B-GGUF:Q4_K_M")
    run("info", "acme/Widget-8B-GGUF")  # a use
    clock.advance(days=3)
    run("download", "acme/Widget-8B-GGUF:Q8_0")
    (model,) = json.loads(run("list", "--json").stdout)["models"]
    assert model["last_used"] == model["downloaded_at"]
    assert model["downloaded_at"].startswith(str((clock.now()).date()))


def test_list_shows_the_quantisations_each_model_holds_with_their_sizes(run: Run) -> None:
    run("download", "acme/Widget-8B-GGUF:Q4_K_M")
    run("download", "acme/Widget-8B-GGUF:Q8_0")
    lines = run("list").stdout.splitlines()
    assert "quant" in lines[0]
    assert "Q4_K_M 3.9 KiB" in lines[1]
    assert "Q8_0 7.8 KiB" in lines[2]


def test_info_shows_the_quantisations_the_vault_holds_with_their_sizes(run: Run) -> None:
    run("download", "acme/Widget-8B-GGUF:Q4_K_M")
    text = run("info", "acme/Widget-8B-GGUF").stdout
    body = json.loads(run("info", "acme/Widget-8B-GGUF", "--json").stdout)
    assert "quantisations  Q4_K_M 3.9 KiB" in text
    assert body["local"]["quantizations"] == [
        {"name": "Q4_K_M", "size_bytes": 4000, "files": ["Widget-8B-Q4_K_M.gguf"]}
    ]


def test_path_of_a_quantisation_is_its_file(run: Run, store: MemoryStore) -> None:
    run("download", "acme/Widget-8B-GGUF:Q4_K_M")
    run("download", "acme/Widget-8B-GGUF:Q8_0")
    result = run("path", "acme/Widget-8B-GGUF:q8_0")
    assert result.exit_code == 0
    assert result.stdout == "/vault/huggingface/acme/Widget-8B-GGUF/Widget-8B-Q8_0.gguf\n"


def test_path_of_a_model_holding_one_quantisation_is_that_file(run: Run) -> None:
    run("download", "acme/Widget-8B-GGUF:Q4_K_M")
    result = run("path", "acme/Widget-8B-GGUF")
    assert result.stdout.endswith("/Widget-8B-Q4_K_M.gguf\n")


def test_path_of_a_model_holding_several_quantisations_asks_for_one(run: Run) -> None:
    run("download", "acme/Widget-8B-GGUF:Q4_K_M")
    run("download", "acme/Widget-8B-GGUF:Q8_0")
    result = run("path", "acme/Widget-8B-GGUF")
    assert result.exit_code == 2
    assert "Q4_K_M, Q8_0" in result.stderr
    assert result.stdout == ""


def test_path_of_a_quantisation_not_held_says_how_to_add_it(run: Run) -> None:
    run("download", "acme/Widget-8B-GGUF:Q4_K_M")
    result = run("path", "acme/Widget-8B-GGUF:Q8_0")
    assert result.exit_code == 1
    assert "devon download acme/Widget-8B-GGUF:Q8_0" in result.stderr


def test_export_gguf_files_lists_one_path_per_quantisation(run: Run, store: MemoryStore) -> None:
    store.add(local_model("acme/plain-7b"))
    run("download", "acme/Widget-8B-GGUF:Q4_K_M")
    run("download", "acme/Widget-8B-GGUF:Q8_0")
    default = run("export").stdout.splitlines()
    per_file = run("export", "--gguf-files").stdout.splitlines()
    assert default == ["/vault/huggingface/acme/Widget-8B-GGUF", "/vault/huggingface/acme/plain-7b"]
    assert per_file == [
        "/vault/huggingface/acme/Widget-8B-GGUF/Widget-8B-Q4_K_M.gguf",
        "/vault/huggingface/acme/Widget-8B-GGUF/Widget-8B-Q8_0.gguf",
        "/vault/huggingface/acme/plain-7b",
    ]


def test_search_names_the_quantisations_of_a_gguf_repo(run: Run) -> None:
    result = run("search", "widget")
    assert "Q4_K_M, Q8_0" in result.stdout
    assert "kinds" not in result.stdout


def test_search_that_stops_at_the_limit_says_more_match_and_how_to_see_them(
    source: FakeSource,
) -> None:
    many = FakeSource([remote_model(f"acme/widget-{n}b") for n in range(1, 6)])
    devon = Devon(source=many, store=MemoryStore(many.disk), clock=SettableClock())
    runner = CliRunner()
    limited = runner.invoke(
        cli, ["search", "widget", "--limit", "3"], obj=CliContext(lambda _: devon)
    )
    every = runner.invoke(
        cli, ["search", "widget", "--limit", "5"], obj=CliContext(lambda _: devon)
    )
    diagnostics.hand_over()
    assert len(limited.stdout.splitlines()) == 1 + 3
    assert "more models match: --limit 6 shows more" in limited.stderr
    assert "more" not in every.stderr


# `--json` commands that fail still answer JSON on stdout (item 7): one object
# `{"error": kind, "detail": message}`, with the exit code a failure always had.


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


def test_list_json_gives_the_quantisations_when_asked(run: Run) -> None:
    run("download", "acme/Widget-8B-GGUF:Q4_K_M")
    plain = json.loads(run("list", "--json").stdout)["models"][0]
    asked = json.loads(run("list", "--json", "--quantizations").stdout)["models"][0]
    assert "quantizations" not in plain
    assert asked.pop("quantizations") == [
        {"name": "Q4_K_M", "size_bytes": 4000, "files": ["Widget-8B-Q4_K_M.gguf"]}
    ]
    assert asked == plain
