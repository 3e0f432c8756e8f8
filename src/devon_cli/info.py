"""`devon info`: what the vault and the source know of one model."""

from pathlib import Path

import click

from devon_cli.context import CliContext
from devon_cli.options import json_option, source_option
from devon_cli.render import (
    details,
    emit_json,
    file_table,
    local_rows,
    print_table,
    remote_rows,
)
from devon_core.models import LocalModel


@click.command(
    short_help="Show a model's local and remote details.",
    epilog="""\b
Examples:
  devon info Qwen/Qwen2.5-7B-Instruct
  devon info https://huggingface.co/Qwen/Qwen2.5-7B-Instruct
  devon info Qwen/Qwen2.5-0.5B --json
  devon info bartowski/Llama-3.2-1B-Instruct-GGUF --files""",
)
@click.argument("model")
@click.option(
    "--files",
    "show_files",
    is_flag=True,
    help="List every file with its size: on the source (with its quantisation) and in the vault.",
)
@source_option
@json_option
@click.pass_obj
def info(
    context: CliContext, model: str, show_files: bool, source: str | None, as_json: bool
) -> None:
    """Show a model's vault entry (if downloaded) and its details on the source.

    MODEL is an id such as Qwen/Qwen2.5-7B-Instruct, its Hugging Face URL, or the id as
    DEVON prints it (huggingface/Qwen/Qwen2.5-7B-Instruct). Counts as a use of the model
    for `devon clean --unused`."""
    result = context.devon.info(model, source=source)
    source, _ = context.devon.resolve(model, source=source)  # the source it was asked of
    if as_json:
        emit_json(result)
        return
    remote, local = result.remote, result.local
    title = remote.model_id if remote else local.model_id if local else model
    context.out.print(f"[bold]{title}[/bold]  ({source})")
    if local is not None:
        context.out.print("\n[bold underline]In the vault[/]")
        rows = local_rows(local, result.local_quantizations)
        context.out.print(details(rows), soft_wrap=True)
        if show_files:
            context.out.print()
            print_table(context.out, file_table(_local_files(local)))
    else:
        context.out.print("\nNot in the vault.")
    if remote is not None:
        context.out.print(f"\n[bold underline]On {source}[/]")
        context.out.print(details(remote_rows(remote)), soft_wrap=True)
        if show_files:
            context.out.print()
            print_table(context.out, file_table([(f.path, f.size_bytes) for f in remote.files]))
    else:
        context.out.print(f"\nNot available from {source} right now.")


def _local_files(model: LocalModel) -> list[tuple[str, int | None]]:
    """Each file of the vault's copy with its size on disk (None if it cannot be read)."""
    rows: list[tuple[str, int | None]] = []
    for relative in model.files:
        try:
            rows.append((relative, (Path(model.path) / relative).stat().st_size))
        except OSError:
            rows.append((relative, None))
    return rows
