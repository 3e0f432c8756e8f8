"""`devon link hf-cache` and `devon unlink hf-cache`: the vault seen as a Hugging Face cache."""

from pathlib import Path

import click

from devon_cli.context import CliContext
from devon_cli.errors import EXIT_FAILED
from devon_cli.options import report_json_option
from devon_cli.render import emit_json, files, format_size, plain, plural
from devon_core.cache_view import LinkKind, ViewReport, ViewSkipReason

_LINKS = {LinkKind.HARD: "hard links", LinkKind.SYMBOLIC: "symlinks", LinkKind.MIXED: "links"}
_FAILURES = {ViewSkipReason.NOT_MADE_BY_DEVON, ViewSkipReason.FAILED}


_TARGET = click.argument("target", type=click.Choice(["hf-cache"]), metavar="hf-cache")
_CACHE = click.argument(
    "cache", required=False, type=click.Path(file_okay=False, path_type=Path), metavar="[DIR]"
)


@click.command(
    short_help="Show every vault model in the Hugging Face cache (links, no copies).",
    epilog="""\b
Examples:
  devon link hf-cache --dry-run           # what would be linked, and where
  devon link hf-cache                     # the cache your environment names
  devon link hf-cache /data/hf/hub --json
  HF_HUB_OFFLINE=1 vllm serve Qwen/Qwen2.5-0.5B-Instruct   # then, reads the vault""",
)
@_TARGET
@_CACHE
@click.option("--dry-run", is_flag=True, help="Only report what would change.")
@report_json_option
@click.pass_obj
def link(
    context: CliContext, target: str, cache: Path | None, dry_run: bool, as_json: bool
) -> None:
    """Lay out every model of the vault in the Hugging Face cache DIR (default:
    DEVON_HF_CACHE, else HF_HUB_CACHE, else $HF_HOME/hub, else
    $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub) as huggingface_hub does
    (models--ORG--NAME: refs/main, snapshots/COMMIT/FILES, blobs/ETAG), so that
    huggingface_hub, transformers and vLLM find them by id: hard links to the vault's files
    (symbolic links when the cache is on another filesystem), so no byte is copied.

    Folders DEVON made for models no longer in the vault are removed; folders DEVON did not
    make are never touched (DEVON's carry a .devon-view.json marker). Set
    DEVON_HF_CACHE_VIEW=true to keep the view current after every download, removal and
    scan. Exits 1 when a model could not be shown (its folder was not made by DEVON, or it
    could not be written)."""
    report = context.devon.link_cache(_where(cache), dry_run=dry_run)
    _finish(context, report, as_json, linking=True)


@click.command(
    short_help="Remove from the Hugging Face cache what `devon link hf-cache` made.",
    epilog="""\b
Examples:
  devon unlink hf-cache --dry-run
  devon unlink hf-cache /data/hf/hub""",
)
@_TARGET
@_CACHE
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
@report_json_option
@click.pass_obj
def unlink(
    context: CliContext, target: str, cache: Path | None, dry_run: bool, as_json: bool
) -> None:
    """Remove from the Hugging Face cache DIR every repo folder `devon link hf-cache` made
    (what huggingface_hub added inside them stays). The vault is not touched. With
    DEVON_HF_CACHE_VIEW=true the next change of the vault links again."""
    report = context.devon.unlink_cache(_where(cache), dry_run=dry_run)
    _finish(context, report, as_json, linking=False)


def _where(cache: Path | None) -> str | None:
    return str(cache.expanduser().absolute()) if cache is not None else None


def _finish(context: CliContext, report: ViewReport, as_json: bool, linking: bool) -> None:
    if as_json:
        emit_json(report)
    else:
        _print(context, report, linking)
    if any(s.reason in _FAILURES for s in report.skipped):
        click.get_current_context().exit(EXIT_FAILED)


def _print(context: CliContext, report: ViewReport, linking: bool) -> None:
    linked, removed_verb = (
        ("would link", "would remove") if report.dry_run else ("linked", "removed")
    )
    for repo in report.linked:
        context.out.print(
            plain(
                f"{linked} {repo.repo_id} ({repo.change}: {repo.source}, snapshot "
                f"{repo.revision[:12]}{' synthetic' if repo.synthetic else ''}, "
                f"{files(repo.files)}, {format_size(repo.size_bytes)}, {_LINKS[repo.links]})"
            ),
            soft_wrap=True,
        )
    for repo_id in report.removed:
        context.out.print(plain(f"{removed_verb} {repo_id}"), soft_wrap=True)
    changed = sum(1 for r in report.linked if r.change != "unchanged")
    removed = f"{len(report.removed)} {'to remove' if report.dry_run else 'removed'}"
    context.out.print(
        plain(
            f"{report.cache}: {plural(len(report.linked), 'model')} shown "
            f"({changed} {'to change' if report.dry_run else 'changed'}), {removed}, "
            f"{len(report.skipped)} skipped."
            if linking
            else f"{report.cache}: {plural(len(report.removed), 'repo')} {removed[2:]}."
        ),
        soft_wrap=True,
    )
    for skipped in report.skipped:
        context.err.print(
            plain(f"skipped {skipped.repo_id} ({skipped.reason}): {skipped.detail}"),
            soft_wrap=True,
        )
    if report.linked and not report.dry_run:
        context.out.print(
            plain(f"Use it: HF_HUB_CACHE={report.cache} HF_HUB_OFFLINE=1 <your runtime>"),
            soft_wrap=True,
        )
