"""Options shared by several commands, declared once."""

from collections.abc import Callable
from typing import Any, TypeVar

import click

from devon_core.filters import SearchFilters

F = TypeVar("F", bound=Callable[..., Any])


def _json_flag(help_text: str) -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help_text)


json_option = _json_flag("Print the result as JSON: the HTTP API's response body.")
report_json_option = _json_flag("Print the report as JSON (its fields are in docs/cli.md).")
"""`--json` of a command with no HTTP route: its report, described in docs/cli.md."""


def source_option(function: F) -> F:
    return click.option(
        "--source",
        default=None,
        metavar="NAME",
        help="Source plugin the model comes from (default: the default_source setting).",
    )(function)


def yes_option(function: F) -> F:
    return click.option(
        "--yes",
        "-y",
        is_flag=True,
        help="Delete without asking (required when stdin is not a terminal).",
    )(function)


def search_filter_options(function: F) -> F:
    """One `--name` option per declared search filter, in their declared order; the command
    receives them by filter name (collect them with `**filter_texts`)."""
    for declaration in reversed(SearchFilters.declarations()):
        function = click.option(
            f"--{declaration.name}",
            declaration.name,
            metavar=declaration.metavar,
            help=declaration.help,
        )(function)
    return function
