"""The live download bar (bytes, speed, ETA) and what Ctrl-C does during a download."""

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

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

from devon_cli.errors import EXIT_INTERRUPTED
from devon_cli.render import format_size
from devon_core.ports import RetryNotice


class _BytesColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        done = format_size(int(task.completed))
        total = format_size(int(task.total)) if task.total is not None else "?"
        return Text(f"{done} / {total}")


class _SpeedColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{format_size(int(speed))}/s" if speed else "-- MiB/s")


RETRY_NOTE_S = 1.0
"""How long a retry note stays on the bar after its wait, once bytes flow again."""


class _Reporter:
    """The `progress` callback: called with (done, total), possibly from several download
    worker threads at once. The bar appears with the first report, so a model that is
    already in the vault shows none. A retry shows on the bar (what failed, the attempt,
    the wait) until bytes flow again; without a terminal it is one line on stderr."""

    def __init__(self, progress: Progress, task: TaskID, label: str, console: Console) -> None:
        self._progress = progress
        self._task = task
        self._label = label
        self._console = console
        self._retry_shown_until: float | None = None
        self._lock = threading.Lock()
        self._started = False
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                # Bytes a resumed download already had are not part of this run's speed.
                self._progress.reset(self._task, total=total, completed=done)
                self._progress.start()
            elif done > self._done:
                self._progress.update(self._task, total=total, completed=done)
                shown_until = self._retry_shown_until
                if shown_until is not None and time.monotonic() > shown_until:
                    # Bytes flow again after the wait: the note has said what it had to.
                    self._retry_shown_until = None
                    self._progress.update(self._task, description=self._label)
            self._done = max(self._done, done)

    def retrying(self, notice: RetryNotice) -> None:
        text = (
            f"{notice.path}: {notice.problem}; retry {notice.attempt} of {notice.attempts} "
            f"in {notice.wait_seconds:.0f} s"
        )
        with self._lock:
            self._retry_shown_until = time.monotonic() + notice.wait_seconds + RETRY_NOTE_S
            if self._console.is_terminal:
                self._progress.update(self._task, description=f"{self._label} ({text})")
            else:
                self._console.print(Text(f"retrying {text}"), soft_wrap=True)


@contextmanager
def progress_bar(console: Console, model_id: str) -> Iterator["_Reporter"]:
    """A `progress` callback for `Devon.download`, drawn as a live bar on `console` when it
    is a terminal (and a no-op otherwise). Ctrl-C inside exits 130 at once."""
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
    label = _label(model_id)
    task = progress.add_task(label, total=None)
    with _exit_on_interrupt(progress, model_id):
        try:
            yield _Reporter(progress, task, label, console)
        finally:
            progress.stop()


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
