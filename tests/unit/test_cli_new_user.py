"""What a new user saw go wrong at the terminal (issue 31), each as it should be."""

import json
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

from devon_cli import diagnostics
from devon_cli.context import CliContext
from devon_cli.main import cli
from devon_core import Devon
from tests.unit.fakes import FakeSource, MemoryStore, SettableClock, remote_model

Run = Callable[..., Result]

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
    devon = Devon(source=source, store=store, clock=clock)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(
            cli, list(args), obj=CliContext(lambda with_sources: devon), prog_name="devon"
        )

    yield invoke
    diagnostics.hand_over()


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
