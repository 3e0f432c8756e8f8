"""`devon rebuild-index`: repair the vault's index from what is on disk."""

from collections.abc import Callable
from typing import cast

import click

from devon_cli.context import CliContext
from devon_cli.render import plain


@click.command(
    "rebuild-index",
    short_help="Rebuild the vault's index from the files on disk.",
    epilog="""\b
Example:
  devon rebuild-index""",
)
@click.pass_obj
def rebuild_index(context: CliContext) -> None:
    """Re-derive the vault's index from the model directories on disk.

    Models still on disk keep their recorded times; models whose directory is gone are
    dropped from the index. Only needed after files were moved or deleted by hand."""
    devon = context.vault
    rebuild = getattr(devon.store, "rebuild_index", None)
    if rebuild is None:
        raise click.UsageError("this vault's store has no index to rebuild")
    count = cast(Callable[[], int], rebuild)()
    noun = "model" if count == 1 else "models"
    context.out.print(plain(f"Index rebuilt: {count} {noun} in {devon.storage_path}"))
