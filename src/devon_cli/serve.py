"""`devon serve`: the HTTP API."""

import click

from devon_cli import diagnostics


@click.command(
    short_help="Serve the HTTP API.",
    epilog="""\b
Examples:
  devon serve
  devon serve --host 0.0.0.0 --port 8080 --workers 4   # set DEVON_API_KEY first

API docs at http://HOST:PORT/schema once it runs.""",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Server processes."
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the DEVON HTTP API (the same operations as these commands)."""
    # Imported here so that other commands do not pay for Litestar's import time.
    from devon_http.serve import CannotListen
    from devon_http.serve import serve as run_server

    diagnostics.hand_over()
    try:
        run_server(host, port, workers)
    except CannotListen as error:
        raise click.ClickException(str(error)) from None
