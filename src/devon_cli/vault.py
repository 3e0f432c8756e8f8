"""Commands over the vault: list, status, remove, clean, export."""

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from devon_cli.context import CliContext
from devon_cli.errors import EXIT_FAILED
from devon_cli.options import json_option, source_option, yes_option
from devon_cli.render import (
    details,
    emit_json,
    format_size,
    local_table,
    plain,
    plural,
    print_table,
)
from devon_core.models import LocalModel
from devon_core.results import DEFAULT_CLEAN_DAYS, CleanResult, ExportFormat, StagedDownload
from devon_core.serialization import export_text, held_wire, unstructure


@click.command(
    "list",
    epilog="""\b
Examples:
  devon list                 # or: devon ls
  devon list --source huggingface --json
  devon list --json --quantizations      # each model's GGUF quantisations too

"last used" is when a command last used the model (info, a repeated download); a model not
used since it came into the vault (downloaded, scanned, adopted) shows that time, marked
"(added)": the time `devon clean --unused` goes by. With --json, last_used stays null until
such a use.""",
)
@click.option("--source", metavar="NAME", help="Only models from this source.")
@click.option(
    "--quantizations",
    "with_quantizations",
    is_flag=True,
    help="With --json: give each model's GGUF quantisations with their sizes (read from disk).",
)
@json_option
@click.pass_obj
def list_models(
    context: CliContext, source: str | None, with_quantizations: bool, as_json: bool
) -> None:
    """List the models in the vault."""
    devon = context.devon
    if as_json and with_quantizations:
        listed = [held_wire(m, devon.held_quantizations(m)) for m in devon.list(source=source)]
        emit_json({"models": listed, "count": len(listed)})
        return
    if as_json:
        # What emit_json(ModelList) prints, without an object per model (ADR 0132), written
        # as bytes: click.echo would scan the whole text for colour codes, which JSON cannot
        # hold raw, and the vault's kept listing goes to stdout without entering Python.
        # Nothing reaches stdout unless the listing could be read (an unknown source, an
        # index that fails): no half JSON before the error.
        out = sys.stdout.buffer
        sys.stdout.flush()
        count = devon.write_list_json(out, source=source, head=b'{"models": ')
        out.write(f', "count": {count}}}\n'.encode())
        out.flush()
        return
    models = devon.list(source=source)
    if not models:
        context.err.print(plain(f"The vault at {devon.storage_path} holds no models."))
    else:
        print_table(context.out, local_table(models, devon.held_quantizations))
        total = sum(m.size_bytes for m in models)
        context.out.print(f"\n{_models(len(models))}, {format_size(total)}")


@click.command(
    short_help="Show the vault's location, model count and size.",
    epilog="""\b
Examples:
  devon status
  devon status --json""",
)
@json_option
@click.pass_obj
def status(context: CliContext, as_json: bool) -> None:
    """Show where the vault is, how many models it holds and their size."""
    result = context.devon.status()
    if as_json:
        emit_json(result)
        return
    rows = [
        ("storage", result.storage_path),
        ("models", str(result.model_count)),
        ("size", format_size(result.total_size_bytes)),
    ]
    rows += [
        (f"  {name}", f"{_models(usage.count)}, {format_size(usage.size_bytes)}")
        for name, usage in sorted(result.sources.items())
    ]
    partial = _arrived(result.partial_bytes, result.staging_bytes)
    if result.staging_bytes:
        partial += "; `devon clean --partial` removes them"
    rows.append(("partial downloads", partial))
    context.out.print(details(rows), soft_wrap=True)


@click.command(
    short_help="Delete a model from the vault.",
    epilog="""\b
Examples:
  devon remove Qwen/Qwen2.5-0.5B-Instruct        # or: devon rm ...
  devon remove huggingface/Qwen/Qwen2.5-0.5B-Instruct --yes --json""",
)
@click.argument("model")
@source_option
@yes_option
@json_option
@click.pass_obj
def remove(context: CliContext, model: str, source: str, yes: bool, as_json: bool) -> None:
    """Delete MODEL's files from the vault. Asks first unless --yes is given.

    MODEL is an id, its Hugging Face URL, or the id as `list`, `clean` and `remove` print
    it, with its source in front (huggingface/owner/name)."""
    devon = context.devon
    source, reference = devon.resolve(model, source=source)
    if reference.selects:
        raise click.UsageError(
            f"remove deletes a whole model: use {reference.model_id} without a quantisation or file"
        )
    present = devon.held(model, source=source)
    if not yes:
        _refuse_unless_a_terminal(context)
        notes = context.err if as_json else context.out
        notes.print(
            plain(f"{present.key}: {format_size(present.size_bytes)} at {present.path}"),
            soft_wrap=True,
        )
        if not _confirmed(context, f"Remove {present.key} from the vault?"):
            context.err.print("Nothing removed.")
            return
    result = devon.remove(present.model_id, source=present.source)
    if as_json:
        emit_json(result)
    else:
        context.out.print(plain(f"Removed {result.source}/{result.model_id}."))


@click.command(
    short_help="Remove unused models, or all of them.",
    epilog="""\b
Examples:
  devon clean --unused --days 30 --dry-run
  devon clean --unused --days 90
  devon clean --partial          # what interrupted downloads left in staging
  devon clean --all --source local   # models placed by hand are kept unless named
  devon clean --all --yes --json""",
)
@click.option("--unused", is_flag=True, help="Remove models not used within --days.")
@click.option(
    "--partial",
    is_flag=True,
    help="Remove what unfinished downloads hold in staging (a running one's is kept).",
)
@click.option(
    "--days",
    type=int,
    metavar="N",
    default=DEFAULT_CLEAN_DAYS,
    show_default=True,
    help="With --unused: how many days without use make a model unused.",
)
@click.option("--all", "all_", is_flag=True, help="Remove every model in the vault.")
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
@click.option(
    "--source",
    metavar="NAME",
    help="Only models from this source; `local` models (placed by hand) only when named.",
)
@yes_option
@json_option
@click.pass_obj
def clean(
    context: CliContext,
    unused: bool,
    partial: bool,
    days: int,
    all_: bool,
    dry_run: bool,
    source: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Remove unused models (--unused --days N), all of them (--all), or what unfinished
    downloads left in staging (--partial).

    Shows what goes and asks before deleting unless --yes is given. A model counts as used
    when it is downloaded, requested again by `devon download`, or looked at with
    `devon info`; `devon list` shows that time under "last used". Models of the `local`
    source (folders placed in the vault by hand, maybe the only copy) are left alone unless
    --source local names them."""
    if not (unused or all_ or partial):
        raise click.UsageError(
            "say what to clean: --unused [--days N] removes models not used in the last "
            f"N days (default {DEFAULT_CLEAN_DAYS}), --all removes every model, --partial "
            "removes unfinished downloads"
        )
    devon = context.devon
    plan = devon.clean(
        unused=unused, days=days, all=all_, dry_run=True, partial=partial, source=source
    )
    if dry_run or not (plan.models or plan.partial_models):
        _show_clean(context, plan, as_json)
        return
    if not yes:
        _refuse_unless_a_terminal(context)
        _show_plan(
            context.err if as_json else context.out,
            plan,
            devon.list(),
            devon.unfinished_downloads() if plan.partial_models else (),
        )
        count = plan.removed + len(plan.partial_models)
        what = _models(plan.removed) if not plan.partial_models else plural(count, "item")
        if not _confirmed(context, f"Remove these {what}?"):
            context.err.print("Nothing removed.")
            return
    # Only what was shown: a model that arrived while the question was open stays.
    confirmed = {*plan.models, *plan.partial_models}
    result = devon.clean(
        unused=unused, days=days, all=all_, only=confirmed, partial=partial, source=source
    )
    _show_clean(context, result, as_json)


def _show_clean(context: CliContext, result: CleanResult, as_json: bool) -> None:
    _print_clean(context, result, as_json)
    if result.failed:  # the others were removed; exit 1 says not all went (ADR 0103)
        for failure in result.failed:
            context.err.print(f"error: could not remove {failure.model}: {failure.detail}")
        click.get_current_context().exit(EXIT_FAILED)


def _print_clean(context: CliContext, result: CleanResult, as_json: bool) -> None:
    if as_json:
        emit_json(_clean_json(result))
        return
    if not (result.models or result.partial_models) and result.failed:
        context.out.print("Nothing removed.")
    elif not (result.models or result.partial_models):
        context.out.print("Nothing to clean.")
    elif result.dry_run:
        unfinished = context.devon.unfinished_downloads() if result.partial_models else ()
        _show_plan(context.out, result, context.devon.list(), unfinished)
        context.out.print("Dry run: nothing removed.")
    else:
        if result.models:
            context.out.print(
                f"Removed {_models(result.removed)}, freed {format_size(result.freed_bytes)}."
            )
        if result.partial_models:
            context.out.print(
                f"Removed {plural(len(result.partial_models), 'unfinished download')}, "
                f"freed {format_size(result.partial_freed_bytes)}."
            )
    if result.skipped_local:
        context.out.print(
            f"Skipped {plural(len(result.skipped_local), 'local model')} "
            "(hand-placed; name them with --source local)."
        )


def _clean_json(result: CleanResult) -> dict[str, Any]:
    """The HTTP API's clean answer, except that a dry run says `would_remove` (nothing was
    removed) where the API, as documented, says `removed`."""
    data: dict[str, Any] = unstructure(result)
    if result.dry_run:
        data = {"would_remove": data.pop("removed"), **data}
    return data


def _arrived(arrived: int, on_disk: int) -> str:
    """Bytes that arrived, and the room taken on disk when preallocation makes it more."""
    text = f"{format_size(arrived)} arrived"
    if on_disk > arrived:
        text += f" ({format_size(on_disk)} on disk, room kept for the rest)"
    return text


def _show_plan(
    console: Console,
    plan: CleanResult,
    models: list[LocalModel],
    unfinished: Sequence[StagedDownload] = (),
) -> None:
    if plan.models:
        sizes = {model.key: model.size_bytes for model in models}
        rows = [(key, format_size(sizes[key]) if key in sizes else "") for key in plan.models]
        console.print(f"Would remove {_models(plan.removed)}, {format_size(plan.freed_bytes)}:")
        console.print(details(rows), soft_wrap=True)
    if plan.partial_models:
        console.print(
            f"Would remove {plural(len(plan.partial_models), 'unfinished download')} "
            f"from staging, {format_size(plan.partial_freed_bytes)}:"
        )
        staged = {s.key: s for s in unfinished}
        rows = [
            (
                key,
                _arrived(staged[key].arrived_bytes, staged[key].size_bytes)
                if key in staged
                else "",
            )
            for key in plan.partial_models
        ]
        console.print(details(rows), soft_wrap=True)


@click.command(
    short_help="Export the model list (KITT's file, or JSON).",
    epilog="""\b
Examples:
  devon export -o /tmp/models.txt     # KITT's file: one model path a line
  devon export --gguf-files           # a GGUF model's files, one a line, not its folder
  devon export --format json -o models.json
  devon export --json                 # the HTTP API's response""",
)
@click.option(
    "--format",
    "export_format",
    type=click.Choice([f.value for f in ExportFormat]),
    default=ExportFormat.KITT.value,
    show_default=True,
    help="kitt: one model path a line; json: the models' details.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=False, path_type=Path),
    help="Write to FILE (atomically) instead of stdout.",
)
@click.option(
    "--gguf-files",
    is_flag=True,
    help="kitt: one line per GGUF quantisation a model holds (the file a runtime opens; the "
    "first shard of a sharded one) instead of the model's folder.",
)
@json_option
@click.pass_obj
def export(
    context: CliContext,
    export_format: str,
    output: Path | None,
    gguf_files: bool,
    as_json: bool,
) -> None:
    """Export the vault's models, sorted by source and id, for KITT or other tools."""
    result = context.devon.export(export_format, gguf_files=gguf_files)
    text = export_text(result)
    if output is not None:
        _write_atomically(output, text)
        context.err.print(plain(f"Exported {_models(result.count)} to {output}"))
    if as_json:
        emit_json(result)
    elif output is None:
        click.echo(text, nl=False)


@click.command(
    "path",
    short_help="Print the file or folder a runtime should load for a model.",
    epilog="""\b
Examples:
  devon path acme/Widget-8B-GGUF:Q4_K_M     # the Q4_K_M file (first shard if sharded)
  devon path acme/Widget-8B-GGUF            # its only quantisation, if it holds one
  devon path Qwen/Qwen2.5-0.5B-Instruct     # a model without GGUF files: its folder
  llama-cli -m "$(devon path acme/Widget-8B-GGUF:Q4_K_M)" -p hello""",
)
@click.argument("model")
@source_option
@click.pass_obj
def path_command(context: CliContext, model: str, source: str | None) -> None:
    """Print the one file or folder a runtime should load for MODEL[:QUANT] from the vault.

    A GGUF model gives the file of the quantisation named (the first shard of a sharded one,
    which llama.cpp loads with the rest), or of the only one it holds; a model holding
    several needs MODEL:QUANT. Any other model gives its folder (transformers, vLLM).
    Counts as a use of the model for `devon clean --unused`."""
    click.echo(context.devon.path(model, source=source))


def _write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one."""
    directory = path.parent
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise click.FileError(str(path), hint=error.strerror or str(error)) from error
    try:
        os.chmod(temporary, _mode_for(path))
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise click.FileError(str(path), hint=error.strerror or str(error)) from error


def _mode_for(path: Path) -> int:
    """The existing file's permissions, or what a plain `open` would give a new file."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _refuse_unless_a_terminal(context: CliContext) -> None:
    """A delete without --yes needs someone to ask: refuse (exit 2) when stdin is no terminal."""
    if not context.can_ask():
        raise click.UsageError(
            "stdin is not a terminal, so DEVON cannot ask before deleting: pass --yes to delete"
        )


def _confirmed(context: CliContext, question: str) -> bool:
    return click.confirm(question, default=False, err=True)


def _models(count: int) -> str:
    return plural(count, "model")


COMMANDS = (list_models, status, remove, clean, export, path_command)
