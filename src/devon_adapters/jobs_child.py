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
