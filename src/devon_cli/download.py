"""`devon download`: bring a model into the vault with a live progress bar."""

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from devon_cli.context import CliContext
from devon_cli.errors import EXIT_INTERRUPTED
from devon_cli.options import json_option, source_option
from devon_cli.render import emit_json, files, format_size
from devon_core.identifiers import parse_model_reference
from devon_core.models import LocalModel


@click.command(
    short_help="Download a model into the vault.",
    epilog="""\b
Examples:
  devon download Qwen/Qwen2.5-0.5B-Instruct
  devon download https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct
  devon download bartowski/Llama-3.2-1B-Instruct-GGUF --include '*Q4_K_M*'
  devon download Qwen/Qwen2.5-0.5B-Instruct --force --json

An interrupted download resumes when the same command is run again.""",
)
@click.argument("model")
@click.option(
    "--include",
    "include_patterns",
    multiple=True,
    metavar="GLOB",
    help="Only files matching this glob (repeatable), e.g. '*Q4_K_M*' or '*.json'.",
)
@click.option("--force", is_flag=True, help="Download again even if the vault has the model.")
@source_option
@json_option
@click.pass_obj
def download(
    context: CliContext,
    model: str,
    include_patterns: tuple[str, ...],
    force: bool,
    source: str,
    as_json: bool,
) -> None:
    """Download MODEL into the vault (an id or its Hugging Face URL).

    The model appears in the vault only once every file has arrived and been verified;
    an interrupted or failed download leaves the vault as it was."""
    model_id = parse_model_reference(model)
    devon = context.devon
    console = context.err
    if not console.is_terminal and not as_json:
        console.print(f"Downloading {model_id} from {source}...")
    requested_at = devon.clock.now()
    started = time.monotonic()
    with _progress_bar(console, model_id) as progress:
        result = devon.download(
            model_id,
            source=source,
            force=force,
            include_patterns=include_patterns or None,
            progress=progress,
        )
    elapsed = time.monotonic() - started
    if as_json:
        emit_json(download_response(result))
    elif result.downloaded_at < requested_at:
        context.out.print(
            f"{model_id} is already in the vault: {_files_and_size(result)} → {result.path} "
            "(use --force to download it again)",
            soft_wrap=True,
        )
    else:
        context.out.print(
            f"Downloaded {model_id}: {_files_and_size(result)} in {elapsed:.1f} s → {result.path}",
            soft_wrap=True,
        )


def download_response(model: LocalModel) -> dict[str, object]:
    """The HTTP API's download response for `model`."""
    return {
        "model_id": model.model_id,
        "source": model.source,
        "path": model.path,
        "files": list(model.files),
        "size_bytes": model.size_bytes,
    }


def _files_and_size(model: LocalModel) -> str:
    return f"{files(len(model.files))}, {format_size(model.size_bytes)}"


class _BytesColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        done = format_size(int(task.completed))
        total = format_size(int(task.total)) if task.total is not None else "?"
        return Text(f"{done} / {total}")


class _SpeedColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{format_size(int(speed))}/s" if speed else "-- MB/s")


class _Reporter:
    """The `progress` callback: called with (done, total) from download worker threads."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task
        self._started = False
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        if not self._started:
            # Bytes a resumed download already had are not part of this run's speed.
            self._started = True
            self._progress.reset(self._task, total=total, completed=done)
        elif done > self._done:
            self._progress.update(self._task, total=total, completed=done)
        self._done = max(self._done, done)


@contextmanager
def _progress_bar(console: Console, model_id: str) -> Iterator[_Reporter]:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=None),
        TaskProgressColumn(),
        _BytesColumn(),
        _SpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
        expand=True,
    )
    task = progress.add_task(_label(model_id), total=None)
    with _exit_on_interrupt(progress, model_id), progress:
        yield _Reporter(progress, task)


def _label(model_id: str, width: int = 24) -> str:
    name = model_id.rsplit("/", 1)[-1]
    return name if len(name) <= width else name[: width - 1] + "…"


@contextmanager
def _exit_on_interrupt(progress: Progress, model_id: str) -> Iterator[None]:
    """Ctrl-C ends the process at once with exit code 130.

    Download workers cannot be cancelled, and waiting for them would keep the command
    running after Ctrl-C. What they wrote stays in staging, where the next run resumes."""

    def stop(signum: int, frame: FrameType | None) -> None:
        progress.stop()
        sys.stdout.flush()
        print(
            f"error: download of {model_id} interrupted; run the same command again to resume it",
            file=sys.stderr,
            flush=True,
        )
        os._exit(EXIT_INTERRUPTED)

    try:
        previous = signal.signal(signal.SIGINT, stop)
    except ValueError:  # not the main thread: leave Ctrl-C as it is
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
