"""The download process of a server (ADR 0133): `python -m devon_app.jobs_child`.

It builds a `Devon` from the settings, so it is wiring and lives in the composition root;
the job process's machinery is `devon_adapters.jobs.process`.
"""

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType

from devon_adapters.jobs.process import CHILD_NICE, ENDS_FLAG, STOP_WAIT_S, end_line
from devon_adapters.jobs.store import IndexJobStore
from devon_app.bootstrap import build_devon
from devon_app.logs import configure_logging
from devon_app.settings import Settings
from devon_core.jobs import Job


def run_child(argv: Sequence[str] = ()) -> None:
    """The child: run the vault's jobs until stdin ends (or SIGTERM), then stop them.
    With `ENDS_FLAG`, the ends it cannot record go to its stdout (and anything else
    written there to stderr)."""
    lower_priority()
    configure_logging()
    signal.signal(signal.SIGTERM, _stop_reading)
    devon = build_devon(Settings.from_env())
    if ENDS_FLAG in argv and isinstance(devon.job_store, IndexJobStore):
        devon.job_store.announce_unrecorded(_ends_writer())
    runner = devon.runner
    assert runner is not None
    devon.start()  # resume what a process that is gone left
    try:
        while os.read(0, 64):
            runner.wake()
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        devon.close(STOP_WAIT_S)


def lower_priority() -> None:
    """Take `CHILD_NICE` steps of CPU priority below the server, and give this process's
    scheduling group the same `nice`.

    Where Linux groups processes by session for scheduling (autogroup, on by default in
    many distributions), `nice` only ranks the processes of one session, and each session
    weighs the same against the others. The child leads a session of its own
    (`ChildJobRunner` starts it so), and the group's `nice` gives that session the weight
    the child's `nice` means everywhere else (ADR 0133). Started any other way (by hand
    from a shell), it shares its starter's session, whose group it leaves as it is: that
    `nice` would hold for every process of the session, the shell included."""
    try:
        niceness = os.nice(CHILD_NICE)
    except OSError:
        return
    if os.getsid(0) != os.getpid():
        return
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
        group.write(str(niceness))


def _ends_writer() -> Callable[[str, Job], None]:
    """What writes ends on the stdout the server reads; stdout itself goes to stderr, so
    that nothing else lands among them."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    lock = threading.Lock()

    def write(owner: str, job: Job) -> None:
        with lock, contextlib.suppress(OSError):  # the server is gone: nobody to tell
            out.write(end_line(owner, job))

    return write


class _Stop(Exception):
    pass


def _stop_reading(signum: int, frame: FrameType | None) -> None:
    raise _Stop


if __name__ == "__main__":
    run_child(sys.argv[1:])
