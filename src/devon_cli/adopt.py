"""`devon adopt`: models already in the Hugging Face cache, taken into the vault."""

from pathlib import Path

import click

from devon_cli.context import CliContext
from devon_cli.errors import EXIT_FAILED
from devon_cli.options import json_option
from devon_cli.render import emit_json, files, format_size, plain, plural
from devon_core.adoption import AdoptReport


@click.command(
    short_help="Adopt models already in the Hugging Face cache, without downloading.",
    epilog="""\b
Examples:
  devon adopt --dry-run                   # what would be adopted, and what skipped
  devon adopt                             # every model of the cache (hard links)
  devon adopt Qwen/Qwen2.5-0.5B-Instruct --json
  devon adopt --cache /data/hf/hub --move # and free the cache of what was adopted""",
)
@click.argument("model_ids", nargs=-1, metavar="[MODEL_ID]...")
@click.option(
    "--cache",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="DIR",
    help="The Hugging Face cache (default: DEVON_HF_CACHE, else HF_HUB_CACHE, else "
    "$HF_HOME/hub, else ~/.cache/huggingface/hub).",
)
@click.option("--move", is_flag=True, help="Remove each model from the cache once adopted.")
@click.option("--dry-run", is_flag=True, help="Only report what would be adopted.")
@json_option
@click.pass_obj
def adopt(
    context: CliContext,
    model_ids: tuple[str, ...],
    cache: Path | None,
    move: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Take models already in the Hugging Face cache into the vault without downloading them:
    every model repo of the cache, or only MODEL_IDs.

    Each repo's snapshot (the one refs/main names, else the newest complete one) is checked
    against its blob hashes and hard-linked into the vault (copied across filesystems), so the
    cache keeps working. Works with the Hub unreachable (metadata is then read from the files).
    Running it again adopts nothing twice. Exits 1 when a repo was skipped: incomplete
    snapshot, hash mismatch, a dataset or Space, an invalid id, or not in the cache."""
    report = context.devon.adopt(
        list(model_ids) or None,
        cache=str(cache) if cache is not None else None,
        move=move,
        dry_run=dry_run,
    )
    if as_json:
        emit_json(report)
    else:
        _print(context, report)
    if report.skipped:
        click.get_current_context().exit(EXIT_FAILED)


def _print(context: CliContext, report: AdoptReport) -> None:
    if not (report.adopted or report.already_present or report.skipped):
        context.out.print(plain(f"Nothing to adopt: no models in {report.cache}."), soft_wrap=True)
        return
    verb = "Would adopt" if report.dry_run else "Adopted"
    for model in report.adopted:
        context.out.print(
            plain(
                f"{'would adopt' if report.dry_run else 'adopted'} {model.model_id} "
                f"({format_size(model.size_bytes)}, {files(len(model.files))})"
            ),
            soft_wrap=True,
        )
    for model_id in report.already_present:
        context.out.print(plain(f"already in the vault {model_id}"), soft_wrap=True)
    context.out.print(
        plain(
            f"{verb} {plural(len(report.adopted), 'model')} "
            f"({format_size(report.adopted_bytes)}) from {report.cache}; "
            f"{len(report.already_present)} already in the vault, "
            f"{len(report.skipped)} skipped."
        ),
        soft_wrap=True,
    )
    for skipped in report.skipped:
        context.err.print(
            plain(f"skipped {skipped.repo} ({skipped.reason}): {skipped.detail}"), soft_wrap=True
        )
