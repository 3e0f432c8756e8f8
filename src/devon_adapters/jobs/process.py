"""`ChildJobRunner`: a server's download jobs run in a child process (ADR 0133).

Transfers are Python threads (reading sockets, writing pieces, reporting progress); run
inside the server they take the interpreter lock from its event loop often enough that a
`/health` waited tens of milliseconds behind two downloads. In a child process, at a lower
CPU priority and in a session (so a scheduling group) of its own, they share nothing with
the event loop but the cores, and the operating system gives those to the server first.

Nothing else changes: jobs are claimed, beaten alive, cancelled and resumed through the
vault's index exactly as before (`ThreadJobRunner`, ADR 0111), so the server reads their
progress and cancels them as it would another worker's. The child is `python -m
devon_app.jobs_child` with the server's settings in its environment; one byte on its
stdin means "look for queued jobs now", and the end of its stdin (the server stopping or
gone) means "stop, leaving running jobs to be resumed": being in another session, the child
gets no Ctrl-C from the server's terminal, and needs none. A job the child ends but cannot
record (a full disk, the database gone) comes back on its stdout as one line of JSON, so
that the server answers those waiting for it all the same (ADR 0205).
"""

import contextlib
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

from devon_adapters.jobs.runner import wait_for_job
from devon_adapters.jobs.store import IndexJobStore
from devon_core.jobs import Job
from devon_core.serialization import converter

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
ENDS_FLAG = "--ends-on-stdout"
"""Tells the child to write the ends it cannot record on its stdout."""


def end_line(owner: str, job: Job) -> str:
    """One line of JSON for a job ended but not recorded."""
    data = {**converter.unstructure(job), "error_kind": job.error_kind}
    return json.dumps({"owner": owner, "job": data}) + "\n"


def read_end_line(line: bytes) -> tuple[str, Job] | None:
    """The owner and job of an `end_line`, or None for anything else."""
    try:
        data = json.loads(line)
        return str(data["owner"]), converter.structure(data["job"], Job)
    except (ValueError, KeyError, TypeError) as error:
        log.warning("The download process wrote a line that is not a job end: %s", error)
        return None


class ChildJobRunner:
    """The `JobRunner` port for a server: wakes, watches and stops a child process that
    runs the jobs (started on first use, and again if it died)."""

    def __init__(self, env: Mapping[str, str], jobs: IndexJobStore, *, poll_s: float = POLL_S):
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
        return wait_for_job(self._jobs, job_id, timeout, self._poll_s)

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
                [sys.executable, "-m", "devon_app.jobs_child", ENDS_FLAG],
                env=self._env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,  # its own scheduling group (`lower_priority`)
            )
            watch = threading.Thread(
                target=self._watch,
                args=(self._child, time.monotonic()),
                name="devon-jobs-child",
                daemon=True,
            )
            watch.start()
            ends = threading.Thread(
                target=self._read_ends, args=(self._child,), name="devon-jobs-ends", daemon=True
            )
            ends.start()
        return self._child

    def _read_ends(self, child: "subprocess.Popen[bytes]") -> None:
        """Hand the job store each end the child could not record, until the child ends."""
        assert child.stdout is not None
        for line in child.stdout:
            end = read_end_line(line)
            if end is not None:
                self._jobs.keep_end(*end)

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
