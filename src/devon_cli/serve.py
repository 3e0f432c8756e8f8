"""`devon serve`: the HTTP API. Its flags are the settings declared with one (`--host`,
`--port`, `--workers`, ...): a flag given wins over the environment and the config file."""

from collections.abc import Callable
from typing import Any

import attrs
import click

from devon_cli import diagnostics


def _setting_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    from devon_app.settings import Settings, specs

    for name, spec in reversed(list(specs(Settings))):
        if spec.flag is None:
            continue
        option = click.option(
            spec.flag,
            name,
            default=None,
            metavar=spec.key.upper(),
            help=f"{spec.help} [default: {spec.default_text}; env {spec.env}]",
        )
        command = option(command)
    return command


@click.command(
    short_help="Serve the HTTP API.",
    epilog="""\b
Examples:
  devon serve
  devon serve --host 0.0.0.0 --port 8080 --workers 4   # set DEVON_API_KEY first

API docs at http://HOST:PORT/schema once it runs.""",
)
@_setting_flags
def serve(**flags: str | None) -> None:
    """Serve the DEVON HTTP API (the same operations as these commands)."""
    # Imported here so that other commands do not pay for Litestar's import time.
    from devon_app.settings import Settings, specs
    from devon_http.serve import CannotListen
    from devon_http.serve import serve as run_server

    settings = Settings.from_env()
    given = {
        name: spec.parse(value, spec.flag or spec.env)
        for name, spec in specs(Settings)
        if (value := flags.get(name)) is not None
    }
    settings = attrs.evolve(settings, **given)
    diagnostics.hand_over()
    try:
        run_server(settings=settings)
    except CannotListen as error:
        raise click.ClickException(str(error)) from None
