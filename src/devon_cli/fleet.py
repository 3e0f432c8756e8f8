"""`devon ensure`, `devon hosts`, `devon placements`: the fleet (docs/fleet.md)."""

import click

from devon_cli.context import CliContext
from devon_cli.options import json_option, source_option
from devon_cli.render import emit_json
from devon_core.fleet import host_data, placement_data
from devon_core.rules import format_bytes


@click.command(
    short_help="Make a model present and verified here; print what a runtime loads.",
    epilog="""\b
Examples:
  devon ensure acme/shardy-7b
  devon ensure bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M --pin
  devon ensure acme/shardy-7b --json""",
)
@click.argument("model")
@click.option("--pin", is_flag=True, help="Never evict it to make room for a placement.")
@click.option(
    "--quant", default=None, metavar="QUANT", help="The GGUF quantisation (as MODEL:QUANT)."
)
@click.option(
    "--all", "every_file", is_flag=True, help="Every file of a repo of several quantisations."
)
@source_option
@json_option
@click.pass_obj
def ensure(
    context: CliContext,
    model: str,
    pin: bool,
    quant: str | None,
    every_file: bool,
    source: str | None,
    as_json: bool,
) -> None:
    """Download MODEL[:QUANT] unless the vault holds it (on a fleet host: from the
    upstream DEVON), verified, and print the file or folder a runtime loads."""
    path = context.devon.ensure(model, source=source, pin=pin, quant=quant, every_file=every_file)
    if as_json:
        emit_json({"model": model, "path": path, "pinned": pin})
        return
    click.echo(path)


@click.command(
    short_help="List the fleet's hosts (on the central DEVON).",
    epilog="""\b
Examples:
  devon hosts
  devon hosts --json""",
)
@json_option
@click.pass_obj
def hosts(context: CliContext, as_json: bool) -> None:
    """The hosts that report to this DEVON: state, last seen, room and models."""
    devon = context.devon
    now = devon.clock.now()
    rows = [host_data(h, now) for h in devon.fleet_of().hosts()]
    if as_json:
        emit_json({"hosts": rows, "count": len(rows)})
        return
    if not rows:
        click.echo("No host reports to this DEVON (start one with DEVON_UPSTREAM set).")
    for row in rows:
        free = format_bytes(row["free_bytes"]) if row["free_bytes"] is not None else "-"
        click.echo(
            f"{row['name']}  {row['state']}  last seen {row['last_seen']}  "
            f"free {free}  models {len(row['models'])}  {row['url'] or ''}".rstrip()
        )


@click.command(
    short_help="List the fleet's placements (on the central DEVON).",
    epilog="""\b
Examples:
  devon placements
  devon placements --json""",
)
@json_option
@click.pass_obj
def placements(context: CliContext, as_json: bool) -> None:
    """Each model on each host: pending, copying (bytes), ready, failed (why), evicted."""
    rows = [placement_data(p) for p in context.devon.fleet_of().placements()]
    if as_json:
        emit_json({"placements": rows, "count": len(rows)})
        return
    if not rows:
        click.echo("No placements.")
    for row in rows:
        state = row["state"]
        if state == "copying":
            state += f" {format_bytes(row['bytes_done'])}/{format_bytes(row['bytes_total'] or 0)}"
        if row["reason"]:
            state += f": {row['reason']}"
        pin = "  pinned" if row["pin"] else ""
        click.echo(f"{row['source']}/{row['model_id']}  {row['host']}  {state}{pin}")
