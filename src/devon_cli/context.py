"""The CLI's composition: how a command gets its `Devon`, its consoles and its terminal facts.

Commands receive a `CliContext` as click's `obj`. The real one builds `Devon` from the
environment on first use (so `--help` and `--version` never touch the vault); tests hand in
a factory that returns a `Devon` made of fakes.
"""

import sys
from collections.abc import Callable
from functools import cached_property

from rich.console import Console

from devon_cli.errors import debug_requested
from devon_core.devon import Devon

DevonFactory = Callable[[bool], Devon]
"""Builds the command's `Devon` (the flag is always True: sources load lazily; kept so a
test's factory keeps its shape)."""


def describe_settings() -> list[tuple[str, str]]:
    """The settings in effect, for `devon doctor`, secrets shown only as set or not."""
    from devon_app import Settings

    return Settings.from_env().describe()


def load_devon(with_sources: bool = True) -> Devon:
    """The real `Devon`: settings from the environment (`DEVON_STORAGE_PATH`, `HF_ENDPOINT`,
    ...) wired to the disk store and the source plugins, which load on first use: commands
    that only read or change the vault never import them (huggingface_hub). Without
    `with_sources`, no plugin at all."""
    from devon_app import Settings, build_devon

    settings = Settings.from_env()
    return build_devon(settings) if with_sources else build_devon(settings, sources=())


class CliContext:
    """What every command needs, built lazily."""

    def __init__(self, factory: DevonFactory = load_devon, *, debug: bool = False) -> None:
        self._factory = factory
        self._devon: Devon | None = None
        self.debug = debug or debug_requested()

    @property
    def devon(self) -> Devon:
        """The one `Devon` of the command. Its source plugins load on first use, so a
        command that only touches the vault never imports them."""
        if self._devon is None:
            self._devon = self._factory(True)
        return self._devon

    @cached_property
    def out(self) -> Console:
        """Results (tables, summaries) on stdout. Rich drops colour when it is not a terminal
        or NO_COLOR is set, and finds `sys.stdout` at each write (so click's test runner
        captures it)."""
        return Console(highlight=False)

    @cached_property
    def err(self) -> Console:
        """Progress and notes on stderr, so that stdout stays clean for pipes and `--json`."""
        return Console(stderr=True, highlight=False)

    @staticmethod
    def can_ask() -> bool:
        """Whether a prompt can be answered: only when stdin is a terminal."""
        return sys.stdin.isatty()
