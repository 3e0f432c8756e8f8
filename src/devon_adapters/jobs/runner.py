"""`ThreadJobRunner`: runs the vault's queued download jobs in threads of this process.

One loop thread per runner (ADR 0111):

- claims queued jobs while fewer than `max_concurrent` jobs are downloading in the whole
  vault (the count is the job store's, so every process and server worker shares it), and
  runs each in its own thread;
- every `tick_s` marks its running jobs alive (a heartbeat) and learns which of them were
  cancelled meanwhile: their transfer stops at its next progress report;
- every `orphan_check_s` (and at once when it starts) puts back in the queue the jobs of
  owners that are gone: a process that no longer runs (same host: its pid is dead or is
  another process now) or whose heartbeat is older than `stale_after_s`, its own jobs
  included (one it no longer beats is not running: its thread ended without ending it).

An owner is `<host>:<pid>:<process start>:<random>`; the start time (from /proc where
there is one) tells a reused pid from the process that claimed the job.
"""

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from devon_core.errors import DevonError
from devon_core.job_use_cases import run_job
from devon_core.jobs import Job
from devon_core.ports import Clock, JobStore, ModelSource, ModelStore

log = logging.getLogger("devon.jobs")

DEFAULT_MAX_CONCURRENT = 2
TICK_S = 0.25
ORPHAN_CHECK_S = 5.0
STALE_AFTER_S = 30.0
IDLE_S = 1.0
"""How often an idle runner looks for jobs queued by other processes."""
PRUNE_EVERY_S = 600.0


def wait_for_job(
    jobs: JobStore,
    job_id: str,
    timeout: float | None,
    longest_pause_s: float,
    pause: Callable[[float], object] = time.sleep,
) -> Job:
    """The job once the store says it has finished, read again after pauses that double
    up to `longest_pause_s` (`pause` may end one early). LookupError if it vanishes,
    TimeoutError after `timeout` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    wait = 0.01
    while True:
        job = jobs.get(job_id)
        if job is None:
            raise LookupError(f"Job {job_id} vanished")
        if job.finished:
            return job
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise TimeoutError(f"Job {job_id} is still {job.status.value}")
        pause(wait if left is None else min(wait, left))
        wait = min(wait * 2, longest_pause_s)


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, Linux), or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_owner(host: str | None = None) -> str:
    """`<host>:<pid>:<process start>:<random>`; `host` defaults to the machine's name."""
    pid = os.getpid()
    host = host or socket.gethostname()
    return f"{host}:{pid}:{process_start(pid) or '-'}:{uuid.uuid4().hex[:8]}"


def _stale(heartbeat_at: datetime | None, now: datetime, stale_after_s: float) -> bool:
    return heartbeat_at is None or now - heartbeat_at > timedelta(seconds=stale_after_s)


def owner_gone(
    owner: str,
    heartbeat_at: datetime | None,
    now: datetime,
    stale_after_s: float,
    this_host: str | None = None,
) -> bool:
    """Whether the process that claimed a job no longer runs it. Only an owner on
    `this_host` (default: the machine's name) can be checked by its pid."""
    if _stale(heartbeat_at, now, stale_after_s):
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, rest = rest.partition(":")
    started, _, _ = rest.partition(":")
    if host != (this_host or socket.gethostname()) or not pid_text.isdigit():
        return False  # another machine's: only its heartbeat tells
    pid = int(pid_text)
    if not pid_alive(pid):
        return True
    return started != "-" and process_start(pid) not in (None, started)


class ThreadJobRunner:
    """The `JobRunner` port: threads in this process running the vault's queued jobs."""

    def __init__(
        self,
        sources: Mapping[str, ModelSource],
        store: ModelStore,
        jobs: JobStore,
        clock: Clock,
        *,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        tick_s: float = TICK_S,
        orphan_check_s: float = ORPHAN_CHECK_S,
        stale_after_s: float = STALE_AFTER_S,
        host: str | None = None,
    ) -> None:
        self._sources = sources
        self._store = store
        self._jobs = jobs
        self._clock = clock
        self.max_concurrent = max(1, max_concurrent)
        self._tick_s = tick_s
        self._orphan_check_s = orphan_check_s
        self._stale_after_s = stale_after_s
        self.host = host or socket.gethostname()
        """This host's name in the owners of the jobs it claims (DEVON_HOST_NAME)."""
        self.owner = make_owner(self.host)
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._running: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self._loop: threading.Thread | None = None

    # -- the port ----------------------------------------------------------------------

    def wake(self) -> None:
        with self._lock:
            if self._loop is None:
                self._closing = threading.Event()
                self._loop = threading.Thread(
                    target=self._run, args=(self._closing,), name="devon-jobs", daemon=True
                )
                self._loop.start()
        self._wake.set()

    start = wake

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        return wait_for_job(self._jobs, job_id, timeout, self._tick_s, self._pause)

    def _pause(self, seconds: float) -> None:
        with self._finished:  # a job of this process ending wakes us at once
            self._finished.wait(seconds)

    # -- life --------------------------------------------------------------------------

    def close(self, timeout: float = 10.0) -> None:
        """Stop claiming; jobs running here stop and go back to the queue (for the next
        process on the vault, or this runner started again, to resume). Waits up to
        `timeout` seconds for them."""
        with self._lock:
            loop, self._loop = self._loop, None
            self._closing.set()
            running = list(self._running.values())
        self._wake.set()
        for _, stop in running:
            stop.set()
        deadline = time.monotonic() + timeout
        for thread, _ in running:
            thread.join(max(deadline - time.monotonic(), 0))
        if loop is not None:
            loop.join(max(deadline - time.monotonic(), 0))

    def running_ids(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def _run(self, closing: threading.Event) -> None:
        next_orphan_check = 0.0
        next_prune = 0.0
        problem: str | None = None
        while not closing.is_set():
            try:
                now = time.monotonic()
                if now >= next_orphan_check:
                    self._requeue_orphans()
                    next_orphan_check = now + self._orphan_check_s
                if now >= next_prune:
                    self._jobs.prune(self._clock.now())
                    next_prune = now + PRUNE_EVERY_S
                self._claim(closing)
                self._beat()
                problem = None
            except DevonError as error:  # the index cannot be reached or written now
                if str(error) != problem:  # said once, not at every tick
                    log.warning("The download job runner cannot use the index: %s", error)
                problem = str(error)
            except Exception:
                log.exception("The download job runner hit an error; it goes on")
            self._wake.wait(self._tick_s if self.running_ids() else IDLE_S)
            self._wake.clear()

    def _requeue_orphans(self) -> None:
        now = self._clock.now()
        mine = set(self.running_ids())

        def gone(owner: str, heartbeat_at: datetime | None) -> bool:
            if owner == self.owner:  # every job running here is beaten at each tick: one
                return _stale(heartbeat_at, now, self._stale_after_s)  # not beaten is lost
            return owner_gone(owner, heartbeat_at, now, self._stale_after_s, self.host)

        for job_id in self._jobs.requeue_orphans(gone):
            if job_id not in mine:
                log.info("Resuming download job %s: the process running it is gone", job_id)

    def _claim(self, closing: threading.Event) -> None:
        while not closing.is_set():
            job = self._jobs.claim(self.owner, self.max_concurrent, self._clock.now())
            if job is None:
                return
            stop = threading.Event()
            thread = threading.Thread(
                target=self._execute,
                args=(job, stop, closing),
                name=f"devon-job-{job.id[:8]}",
                daemon=True,
            )
            with self._lock:
                self._running[job.id] = (thread, stop)
            thread.start()

    def _beat(self) -> None:
        with self._lock:
            running = dict(self._running)
        if not running:
            return
        for job_id in self._jobs.heartbeat(self.owner, list(running), self._clock.now()):
            running[job_id][1].set()  # cancelled (or taken over): stop its transfer

    def _execute(self, job: Job, stop: threading.Event, closing: threading.Event) -> None:
        try:
            run_job(
                job,
                self._sources,
                self._store,
                self._clock,
                self._jobs,
                self.owner,
                should_stop=stop.is_set,
                releasing=closing.is_set,
                stop=stop,
            )
        except Exception:
            log.exception("Download job %s could not be ended cleanly", job.id)
        finally:
            with self._finished:
                self._running.pop(job.id, None)
                self._finished.notify_all()
            self._wake.set()  # a slot is free: claim the next
