"""`devon info`: what the vault and the source know of one model."""

import click

from devon_cli.context import CliContext
from devon_cli.options import json_option, source_option
from devon_cli.render import details, emit_json, local_rows, remote_rows
from devon_core.identifiers import parse_model_reference


@click.command(
    short_help="Show a model's local and remote details.",
    epilog="""\b
Examples:
  devon info Qwen/Qwen2.5-7B-Instruct
  devon info https://huggingface.co/Qwen/Qwen2.5-7B-Instruct
  devon info Qwen/Qwen2.5-0.5B --json""",
)
@click.argument("model")
@source_option
@json_option
@click.pass_obj
def info(context: CliContext, model: str, source: str, as_json: bool) -> None:
    """Show a model's vault entry (if downloaded) and its details on the source.

    MODEL is an id such as Qwen/Qwen2.5-7B-Instruct or its Hugging Face URL.
    Counts as a use of the model for `devon clean --unused`."""
    result = context.devon.info(parse_model_reference(model), source=source)
    if as_json:
        emit_json(result)
        return
    remote, local = result.remote, result.local
    title = remote.model_id if remote else local.model_id if local else model
    context.out.print(f"[bold]{title}[/bold]  ({source})")
    if local is not None:
        context.out.print("\n[bold underline]In the vault[/]")
        context.out.print(details(local_rows(local)), soft_wrap=True)
    else:
        context.out.print("\nNot in the vault.")
    if remote is not None:
        context.out.print(f"\n[bold underline]On {source}[/]")
        context.out.print(details(remote_rows(remote)), soft_wrap=True)
    else:
        context.out.print(f"\nNot available from {source} right now.")
