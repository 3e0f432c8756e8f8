"""The `devon` command group, its global options, and the one place errors become exit codes."""

import importlib
import json
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from devon_cli import diagnostics
from devon_cli.context import CliContext
from devon_cli.errors import EXIT_OK, error_kind, exit_code_for, message_for, one_line

ALIASES = {"ls": "list", "rm": "remove"}
"""Short names a shell user types by habit: `devon ls`, `devon rm MODEL`."""

COMMANDS = {
    "adopt": "devon_cli.adopt:adopt",
    "clean": "devon_cli.vault:clean",
    "copy-index": "devon_cli.maintenance:copy_index_command",
    "doctor": "devon_cli.maintenance:doctor",
    "download": "devon_cli.download:download",
    "ensure": "devon_cli.fleet:ensure",
    "export": "devon_cli.vault:export",
    "hosts": "devon_cli.fleet:hosts",
    "import-legacy": "devon_cli.maintenance:import_legacy",
    "info": "devon_cli.info:info",
    "link": "devon_cli.link:link",
    "list": "devon_cli.vault:list_models",
    "path": "devon_cli.vault:path_command",
    "placements": "devon_cli.fleet:placements",
    "rebuild-index": "devon_cli.maintenance:rebuild_index",
    "remove": "devon_cli.vault:remove",
    "scan": "devon_cli.maintenance:scan",
    "search": "devon_cli.search:search",
    "serve": "devon_cli.serve:serve",
    "status": "devon_cli.vault:status",
    "unlink": "devon_cli.link:unlink",
}
"""Each command and where it is defined: a command's module is imported when the command
runs (or help lists it), so `devon list --json` does not pay for `serve`, `adopt` or
`search` and what they import."""


class DevonGroup(click.Group):
    """A click group whose `main` turns every error into one stderr line and an exit code,
    and that knows the commands' aliases."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        name = ALIASES.get(cmd_name, cmd_name)
        command = super().get_command(ctx, name)
        if command is None and name in COMMANDS:
            module, _, attribute = COMMANDS[name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, name)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            name, command, rest = super().resolve_command(ctx, args)
        except click.NoSuchCommand as error:
            # click suggests among the commands imported so far; suggest among them all.
            raise click.NoSuchCommand(
                error.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None
        # Report the real name (`devon list --help`, not `devon ls`).
        return (command.name if command is not None else name), command, rest

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        context: CliContext = extra.setdefault("obj", CliContext())
        as_json = _asks_for_json(sys.argv[1:] if args is None else args)
        try:
            returned = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            click.echo(error.format_message())
            sys.exit(EXIT_OK)
        except Exception as error:  # the one place where every failure is reported
            _report(error, context.debug, as_json)
        sys.exit(returned if isinstance(returned, int) else EXIT_OK)


def _report(error: BaseException, debug: bool, as_json: bool) -> NoReturn:
    if debug and not isinstance(error, click.ClickException):
        traceback.print_exception(error)
    message = one_line(message_for(error))
    click.echo(f"error: {message}", err=True)
    if as_json:  # a script reading stdout gets JSON whether the command worked or not
        click.echo(json.dumps({"error": error_kind(error), "detail": message}))
    sys.exit(exit_code_for(error))


def _asks_for_json(args: Sequence[str]) -> bool:
    """Whether the command line asks for `--json` (before a `--`), read from the words
    themselves: a usage error can end a command before its options are parsed."""
    words = list(args)
    return "--json" in (words[: words.index("--")] if "--" in words else words)


@click.group(
    cls=DevonGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  devon search qwen --params '<=8b' --format safetensors
  devon download Qwen/Qwen2.5-0.5B-Instruct
  devon list
  devon export -o /tmp/models.txt

The vault is at DEVON_STORAGE_PATH (default: the platform's data directory).""",
)
@click.version_option(
    None, "--version", "-V", package_name="devon", prog_name="devon", message="%(prog)s %(version)s"
)
@click.option(
    "--debug",
    is_flag=True,
    help="Show the full traceback of an unexpected error (or DEVON_DEBUG=1).",
)
@click.pass_obj
def cli(context: CliContext, debug: bool) -> None:
    """DEVON: find open LLMs on Hugging Face, keep them in a local vault, and manage it."""
    context.debug = context.debug or debug
    diagnostics.configure(context.debug)


def main() -> NoReturn:
    """The `devon` console script."""
    cli.main(prog_name="devon")
