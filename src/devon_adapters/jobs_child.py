"""The download process of a server (ADR 0133): `python -m devon_adapters.jobs_child`.

Kept apart from `job_process` (which the package imports) so that running it as `-m` does
not import it twice.
"""

import contextlib
import os
import signal
from types import FrameType

from devon_adapters.bootstrap import build_devon
from devon_adapters.job_process import CHILD_NICE, STOP_WAIT_S
from devon_adapters.logs import configure_logging
from devon_adapters.settings import Settings


def run_child() -> None:
    """The child: run the vault's jobs until stdin ends (or SIGTERM), then stop them."""
    lower_priority()
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


class _Stop(Exception):
    pass


def _stop_reading(signum: int, frame: FrameType | None) -> None:
    raise _Stop


if __name__ == "__main__":
    run_child()
