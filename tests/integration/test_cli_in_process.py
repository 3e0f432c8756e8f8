"""The `devon` command over a `Devon` made of fakes, in-process: what each command prints
and how it exits. The subprocess tests in tests/e2e run the real thing end to end."""

import importlib
import json
import pkgutil
from collections.abc import Iterator

import click
import pytest

import devon_cli
from devon_adapters.huggingface.references import parse_hub_reference
from devon_cli.main import COMMANDS, cli
from devon_core import Devon, SourceUnavailable
from tests.support.cli_in_process import Run, running_cli
from tests.support.fakes import (
    FakeSource,
    MemoryStore,
    SettableClock,
    local_model,
    remote_model,
)

QWEN = remote_model(
    "Qwen/Qwen2.5-0.5B",
    files=(("config.json", 700), ("model.safetensors", 988_000_000)),
    parameter_count=0.494,
    format=("safetensors",),
    downloads=123_456,
    license="apache-2.0",
)
LLAMA_GGUF = remote_model(
    "bartowski/Llama-3.2-1B-GGUF",
    files=(("Llama-Q4_K_M.gguf", 800), ("Llama-Q8_0.gguf", 1300)),
    parameter_count=1.24,
    format=("gguf",),
    quantization="Q4_K_M",
    downloads=9_000,
)


@pytest.fixture
def source() -> FakeSource:
    return FakeSource([QWEN, LLAMA_GGUF], references=parse_hub_reference)


@pytest.fixture
def store(source: FakeSource) -> MemoryStore:
    return MemoryStore(source.disk)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def run(source: FakeSource, store: MemoryStore, clock: SettableClock) -> Iterator[Run]:
    yield from running_cli(Devon(source=source, store=store, clock=clock))


def test_search_shows_a_table_with_names_params_and_sizes(run: Run) -> None:
    result = run("search", "qwen")
    assert result.exit_code == 0
    assert "Qwen2.5-0.5B" in result.stdout
    assert "494M" in result.stdout
    assert "942.2 MiB" in result.stdout


def test_search_json_has_the_api_fields(run: Run) -> None:
    result = run("search", "--format", "gguf", "--json")
    body = json.loads(result.stdout)
    assert body["count"] == 1
    assert body["results"][0]["model_id"] == "bartowski/Llama-3.2-1B-GGUF"
    assert "files" not in body["results"][0]


def test_search_with_a_bad_filter_is_a_usage_error_on_one_line(run: Run) -> None:
    result = run("search", "--params", "lots")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Invalid params filter")
    assert result.stderr.count("\n") == 1


def test_info_accepts_a_hub_url(run: Run) -> None:
    result = run("info", "https://huggingface.co/Qwen/Qwen2.5-0.5B/tree/main")
    assert result.exit_code == 0
    assert "Not in the vault" in result.stdout
    assert "apache-2.0" in result.stdout


def test_info_of_unknown_model_exits_1(run: Run) -> None:
    result = run("info", "nobody/nothing")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")


def test_info_when_source_is_down_and_model_missing_exits_1(run: Run, source: FakeSource) -> None:
    source.info_error = SourceUnavailable("huggingface.co could not be reached")
    result = run("info", "Qwen/Qwen2.5-0.5B")
    assert (result.exit_code, result.stderr) == (
        1,
        "error: huggingface.co could not be reached\n",
    )


def test_download_prints_a_one_line_summary(run: Run, store: MemoryStore) -> None:
    result = run("download", "Qwen/Qwen2.5-0.5B")
    assert result.exit_code == 0
    assert result.stdout.startswith("Downloaded Qwen/Qwen2.5-0.5B: 2 files, 942.2 MiB in ")
    assert result.stdout.rstrip().endswith("/vault/huggingface/Qwen/Qwen2.5-0.5B")
    assert store.get("huggingface", "Qwen/Qwen2.5-0.5B") is not None


def test_download_of_present_model_says_so(
    run: Run, store: MemoryStore, clock: SettableClock
) -> None:
    store.add(local_model("Qwen/Qwen2.5-0.5B"))
    clock.advance(hours=1)
    result = run("download", "Qwen/Qwen2.5-0.5B")
    assert result.exit_code == 0
    assert "already in the vault" in result.stdout


def test_download_include_filters_files(run: Run, source: FakeSource) -> None:
    result = run("download", "bartowski/Llama-3.2-1B-GGUF", "--include", "*Q4_K_M*", "--json")
    assert json.loads(result.stdout)["files"] == ["Llama-Q4_K_M.gguf"]
    assert source.downloads == [("bartowski/Llama-3.2-1B-GGUF", ("Llama-Q4_K_M.gguf",))]


def test_download_json_has_the_api_fields(run: Run) -> None:
    result = run("download", "Qwen/Qwen2.5-0.5B", "--json")
    assert set(json.loads(result.stdout)) == {"model_id", "source", "path", "files", "size_bytes"}


def test_failed_download_exits_1_and_leaves_the_vault_empty(
    run: Run, source: FakeSource, store: MemoryStore
) -> None:
    source.fail_download = True
    result = run("download", "Qwen/Qwen2.5-0.5B")
    assert result.exit_code == 1
    assert result.stderr.endswith("\nerror: connection cut while fetching model.safetensors\n")
    assert store.list() == []


def test_invalid_model_id_exits_2(run: Run) -> None:
    result = run("download", "../etc/passwd")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: Invalid model id")


def test_list_and_status_show_the_vault(run: Run, store: MemoryStore) -> None:
    store.add(local_model("acme/widget-7b", size_bytes=2048))
    listed, status = run("list"), run("status")
    assert "acme/widget-7b" in listed.stdout
    assert "1 model, 2.0 KiB" in listed.stdout
    assert "/vault" in status.stdout


def test_list_json_is_the_api_response(run: Run, store: MemoryStore) -> None:
    store.add(local_model("acme/widget-7b"))
    body = json.loads(run("list", "--json").stdout)
    assert body["count"] == 1
    assert body["models"][0]["downloaded_at"] == "2025-02-12T14:30:00.000000+00:00"


def test_remove_without_yes_refuses_when_stdin_is_not_a_terminal(
    run: Run, store: MemoryStore
) -> None:
    store.add(local_model("acme/widget-7b"))
    result = run("remove", "acme/widget-7b")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert store.get("huggingface", "acme/widget-7b") is not None


def test_remove_with_yes_deletes(run: Run, store: MemoryStore) -> None:
    store.add(local_model("acme/widget-7b"))
    result = run("remove", "acme/widget-7b", "--yes", "--json")
    assert json.loads(result.stdout) == {
        "deleted": True,
        "model_id": "acme/widget-7b",
        "source": "huggingface",
    }
    assert store.list() == []


def test_remove_of_missing_model_exits_1(run: Run) -> None:
    result = run("remove", "acme/widget-7b", "--yes")
    assert result.exit_code == 1
    assert result.stderr == "error: Model huggingface/acme/widget-7b is not in the vault\n"


def test_clean_without_a_selection_explains_what_to_pass(run: Run) -> None:
    result = run("clean")
    assert result.exit_code == 2
    assert "--unused" in result.stderr
    assert "--all" in result.stderr


def test_clean_dry_run_lists_and_keeps(run: Run, store: MemoryStore) -> None:
    store.add(local_model("acme/widget-7b"))
    result = run("clean", "--all", "--dry-run", "--json")
    assert json.loads(result.stdout)["models"] == ["huggingface/acme/widget-7b"]
    assert len(store.list()) == 1


def test_clean_unused_with_yes_removes_old_models_only(
    run: Run, store: MemoryStore, clock: SettableClock
) -> None:
    store.add(local_model("acme/old"))
    clock.advance(days=40)
    store.add(local_model("acme/new", downloaded_at=clock.now()))
    result = run("clean", "--unused", "--days", "30", "--yes")
    assert result.exit_code == 0
    assert result.stdout.startswith("Removed 1 model, freed 1000 B.")
    assert [m.model_id for m in store.list()] == ["acme/new"]


def test_clean_with_negative_days_is_a_usage_error(run: Run) -> None:
    assert run("clean", "--unused", "--days", "-1").exit_code == 2


def test_export_prints_one_path_a_line(run: Run, store: MemoryStore) -> None:
    store.add(local_model("b/two"))
    store.add(local_model("a/one"))
    result = run("export")
    assert result.stdout == "/vault/huggingface/a/one\n/vault/huggingface/b/two\n"


def test_export_writes_the_file(run: Run, store: MemoryStore, tmp_path: object) -> None:
    store.add(local_model("a/one"))
    target = f"{tmp_path}/models.txt"
    result = run("export", "-o", target, "--json")
    assert json.loads(result.stdout)["content"] == ["/vault/huggingface/a/one"]
    with open(target) as file:
        assert file.read() == "/vault/huggingface/a/one\n"


def test_unexpected_error_is_one_line_with_a_debug_hint(run: Run, source: FakeSource) -> None:
    source.info_error = RuntimeError("boom")
    result = run("info", "Qwen/Qwen2.5-0.5B")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: unexpected RuntimeError: boom "
        "(run with --debug or DEVON_DEBUG=1 to see the traceback)\n"
    )


def test_debug_shows_the_traceback(run: Run, source: FakeSource) -> None:
    source.info_error = RuntimeError("boom")
    result = run("--debug", "info", "Qwen/Qwen2.5-0.5B")
    assert "Traceback" in result.stderr


def test_unknown_option_is_exit_2_on_one_line(run: Run) -> None:
    result = run("list", "--frobnicate")
    assert result.exit_code == 2
    assert result.stderr == ("error: No such option '--frobnicate'; see 'devon list --help'\n")


@pytest.mark.parametrize("command", cli.list_commands(click.Context(cli)))
def test_every_command_has_help_with_an_example(run: Run, command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert f"devon {command}" in result.stdout.split("Example")[1]


def test_bare_devon_prints_the_help(run: Run) -> None:
    result = run()
    assert result.exit_code == 0
    assert "Commands:" in result.stdout


def test_clean_that_cannot_remove_a_model_removes_the_others_and_exits_1(
    run: Run, store: MemoryStore
) -> None:
    store.add(local_model("acme/a"))
    store.add(local_model("acme/b"))
    store.fail_remove = {"huggingface/acme/b"}

    result = run("clean", "--all", "--yes")

    assert result.exit_code == 1
    assert "Removed 1 model" in result.stdout
    assert "could not remove huggingface/acme/b" in result.stderr
    assert [m.model_id for m in store.list()] == ["acme/b"]


def test_every_command_a_cli_module_defines_is_reachable_by_its_name() -> None:
    defined = {}
    for module_info in pkgutil.iter_modules(devon_cli.__path__):
        if module_info.name.startswith("_"):
            continue  # __main__ runs the command
        module = importlib.import_module(f"devon_cli.{module_info.name}")
        for attribute, value in vars(module).items():
            is_command = isinstance(value, click.Command) and not isinstance(value, click.Group)
            if is_command and getattr(value.callback, "__module__", None) == module.__name__:
                defined[value.name] = f"{module.__name__}:{attribute}"

    assert defined == COMMANDS
