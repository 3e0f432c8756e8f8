"""A `Devon` built whole: its job runner starts and stops with it (`start()`, `close()`)."""

from devon_core import Devon, Job
from tests.support.fakes import FakeSource, MemoryStore, SettableClock


class LoggedRunner:
    """A job runner that runs nothing and notes what it was told."""

    def __init__(self) -> None:
        self.told: list[str] = []

    def wake(self) -> None:
        self.told.append("wake")

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        raise TimeoutError(job_id)

    def start(self) -> None:
        self.told.append("start")

    def close(self, timeout: float = 10.0) -> None:
        self.told.append(f"close {timeout}")


def test_start_and_close_reach_the_runner_devon_was_built_with(
    source: FakeSource, store: MemoryStore, clock: SettableClock
) -> None:
    runner = LoggedRunner()
    devon = Devon(source=source, store=store, clock=clock, runner=runner)
    devon.start()
    devon.close(2.0)
    assert runner.told == ["start", "close 2.0"]
    assert devon.runner is runner


def test_start_and_close_without_a_runner_do_nothing(devon: Devon) -> None:
    devon.start()
    devon.close()
    assert devon.runner is None
