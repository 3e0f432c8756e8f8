"""The `devon` command run in-process (click's runner) over a given `Devon`."""

from collections.abc import Callable, Iterator

from click.testing import CliRunner, Result

from devon_cli import diagnostics
from devon_cli.context import CliContext
from devon_cli.main import cli
from devon_core import Devon

Run = Callable[..., Result]


def running_cli(devon: Devon) -> Iterator[Run]:
    """`run(*args, stdin=None)`: the command with `args` over `devon`, to `yield from` in a
    fixture; the command routes logging and warnings, and they are given back after."""

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(
            cli,
            list(args),
            obj=CliContext(lambda with_sources: devon),
            input=stdin,
            prog_name="devon",
        )

    yield invoke
    diagnostics.hand_over()
