"""`ChildJobRunner`: a server's download jobs run in a child process (ADR 0133).

Transfers are Python threads (reading sockets, writing pieces, reporting progress); run
inside the server they take the interpreter lock from its event loop often enough that a
`/health` waited tens of milliseconds behind two downloads. In a child process, at a lower
CPU priority, they share nothing with the event loop but the cores, and the operating
system gives those to the server first.

Nothing else changes: jobs are claimed, beaten alive, cancelled and resumed through the
vault's index exactly as before (`ThreadJobRunner`, ADR 0111), so the server reads their
progress and cancels them as it would another worker's. The child is `python -m
devon_adapters.job_process` with the server's settings in its environment; one byte on its
stdin means "look for queued jobs now", and the end of its stdin (the server stopping or
gone) means "stop, leaving running jobs to be resumed".
"""

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from types import FrameType

from devon_core.jobs import Job
from devon_core.ports import JobStore

log = logging.getLogger("devon.jobs")

CHILD_NICE = 10
"""How much lower the child's CPU priority is than the server's (`nice`)."""
STOP_WAIT_S = 2.0
"""How long the child gives running jobs to stop when it is told to."""
POLL_S = 0.25
RESTART_AFTER_S = (0.0, 1.0, 5.0, 30.0)
"""Waits before starting the child again after it died, by deaths in a row (the last one
repeats): a child that cannot start at all does not spin."""
HEALTHY_AFTER_S = 60.0
"""A child that ran this long before it died starts the count of deaths again."""


class ChildJobRunner:
    """The `JobRunner` port for a server: wakes, watches and stops a child process that
    runs the jobs (started on first use, and again if it died)."""

    def __init__(self, env: Mapping[str, str], jobs: JobStore, *, poll_s: float = POLL_S):
        self._env = dict(env)
        self._jobs = jobs
        self._poll_s = poll_s
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._closed = threading.Event()
        self._deaths = 0

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        with self._lock:
            child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def wake(self) -> None:
        with self._lock:
            for _ in range(2):  # a child that died since the last call is started again
                child = self._running_child()
                try:
                    assert child.stdin is not None
                    child.stdin.write(b"w")
                    child.stdin.flush()
                    return
                except OSError:
                    self._child = None
            log.error("The download process does not take work; jobs wait in the queue")

    start = wake

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.01
        while True:
            job = self._jobs.get(job_id)
            if job is None:
                raise LookupError(f"Job {job_id} vanished")
            if job.finished:
                return job
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"Job {job_id} is still {job.status.value}")
            time.sleep(pause if left is None else min(pause, left))
            pause = min(pause * 2, self._poll_s)

    def close(self, timeout: float = 10.0) -> None:
        """Tell the child to stop (its running jobs go back to the queue) and wait for it."""
        self._closed.set()
        with self._lock:
            child, self._child = self._child, None
        if child is None:
            return
        with contextlib.suppress(OSError):
            assert child.stdin is not None
            child.stdin.close()
        try:
            child.wait(timeout + STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def _running_child(self) -> "subprocess.Popen[bytes]":
        if self._child is None or self._child.poll() is not None:
            self._closed.clear()
            self._child = subprocess.Popen(
                [sys.executable, "-m", "devon_adapters.job_process"],
                env=self._env,
                stdin=subprocess.PIPE,
            )
            watch = threading.Thread(
                target=self._watch,
                args=(self._child, time.monotonic()),
                name="devon-jobs-child",
                daemon=True,
            )
            watch.start()
        return self._child

    def _watch(self, child: "subprocess.Popen[bytes]", started: float) -> None:
        """Start the child again if it dies while this runner is in use: the jobs it ran
        go back to the queue (their owner is gone) and the new child resumes them."""
        code = child.wait()
        if self._closed.is_set():
            return
        self._deaths = 1 if time.monotonic() - started > HEALTHY_AFTER_S else self._deaths + 1
        log.warning("The download process exited (%s); starting it again", code)
        delay = RESTART_AFTER_S[min(self._deaths - 1, len(RESTART_AFTER_S) - 1)]
        if self._closed.wait(delay):
            return
        with self._lock:
            if self._child is not child:
                return  # already replaced (a wake saw it dead first)
        self.wake()


def run_child() -> None:
    """The child: run the vault's jobs until stdin ends (or SIGTERM), then stop them."""
    from devon_adapters.bootstrap import build_devon
    from devon_adapters.logs import configure_logging
    from devon_adapters.settings import Settings

    with contextlib.suppress(OSError):
        os.nice(CHILD_NICE)
    configure_logging()
    signal.signal(signal.SIGTERM, _stop_reading)
    devon = build_devon(Settings.from_env())
    runner = devon.runner
    assert runner is not None
    runner.wake()  # resume what a process that is gone left
    try:
        while os.read(0, 64):
            runner.wake()
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close(STOP_WAIT_S)


class _Stop(Exception):
    pass


def _stop_reading(signum: int, frame: FrameType | None) -> None:
    raise _Stop


if __name__ == "__main__":
    run_child()
