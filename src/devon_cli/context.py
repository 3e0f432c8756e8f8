"""The CLI's composition: how a command gets its `Devon`, its consoles and its terminal facts.

Commands receive a `CliContext` as click's `obj`. The real one builds `Devon` from the
environment on first use (so `--help` and `--version` never touch the vault); tests hand in
a factory that returns a `Devon` made of fakes.
"""

import sys
from collections.abc import Callable

from rich.console import Console

from devon_cli.errors import debug_requested
from devon_core.devon import Devon

DevonFactory = Callable[[], Devon]


def load_devon() -> Devon:
    """The real `Devon`: settings from the environment (`DEVON_STORAGE_PATH`, `HF_ENDPOINT`,
    ...) wired to the disk store and the Hugging Face source."""
    from devon_adapters import Settings, build_devon

    return build_devon(Settings.from_env())


class CliContext:
    """What every command needs, built lazily."""

    def __init__(self, factory: DevonFactory = load_devon, *, debug: bool = False) -> None:
        self._factory = factory
        self._devon: Devon | None = None
        self.debug = debug or debug_requested()

    @property
    def devon(self) -> Devon:
        if self._devon is None:
            self._devon = self._factory()
        return self._devon

    @property
    def out(self) -> Console:
        """Results (tables, summaries) on stdout. Rich drops colour when it is not a terminal
        or NO_COLOR is set."""
        return Console(highlight=False)

    @property
    def err(self) -> Console:
        """Progress and notes on stderr, so that stdout stays clean for pipes and `--json`."""
        return Console(stderr=True, highlight=False)

    @staticmethod
    def can_ask() -> bool:
        """Whether a prompt can be answered: only when stdin is a terminal."""
        return sys.stdin.isatty()
