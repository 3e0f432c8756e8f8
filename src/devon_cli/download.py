"""`devon download`: bring a model (or one of its quantisations) into the vault with a live
progress bar; `--dry-run` shows what would be fetched."""

import time

import attrs
import click

from devon_cli.context import CliContext
from devon_cli.options import json_option, source_option
from devon_cli.render import (
    emit_json,
    file_table,
    files,
    format_size,
    plain,
    quantization_table,
)
from devon_core.download_plan import DownloadPlan
from devon_core.errors import ChoiceNeeded
from devon_core.models import LocalModel
from devon_core.quantizations import parse_quant_tag
from devon_core.results import DownloadResult
from devon_core.serialization import unstructure


@click.command(
    short_help="Download a model into the vault.",
    epilog="""\b
Examples:
  devon download Qwen/Qwen2.5-0.5B-Instruct
  devon download bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M
  devon download bartowski/Llama-3.2-1B-Instruct-GGUF --quant q4_k_m --dry-run
  devon download https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/main/Llama-3.2-1B-Instruct-Q4_K_M.gguf
  devon download hf.co/Qwen/Qwen2.5-0.5B-Instruct --force --json

MODEL is an id (owner/name), owner/name:QUANT, or a Hugging Face URL to the model or to one
of its files. A repo of several GGUF quantisations needs a choice: --quant NAME (or
MODEL:NAME) for one, --all for every file. An interrupted download resumes when the same
command is run again.""",
)
@click.argument("model")
@click.option(
    "--quant",
    metavar="NAME",
    help="Only this GGUF quantisation (any case), e.g. Q4_K_M; a sharded one comes whole.",
)
@click.option(
    "--all", "all_files", is_flag=True, help="Every file, even of a repo of several quantisations."
)
@click.option(
    "--include",
    "include_patterns",
    multiple=True,
    metavar="GLOB",
    help="Only files matching this glob (repeatable), e.g. '*.json'; adds to --quant.",
)
@click.option("--force", is_flag=True, help="Download again even if the vault has the model.")
@click.option(
    "--dry-run", is_flag=True, help="Show the files and total it would fetch; fetch none."
)
@click.option(
    "-y",
    "--yes",
    "assume_yes",
    is_flag=True,
    help="Accepted for scripts that pass it (KITT's campaign runner does); download never asks.",
)
@source_option
@json_option
@click.pass_obj
def download(
    context: CliContext,
    model: str,
    quant: str | None,
    all_files: bool,
    include_patterns: tuple[str, ...],
    force: bool,
    dry_run: bool,
    assume_yes: bool,
    source: str,
    as_json: bool,
) -> None:
    """Download MODEL into the vault.

    The model appears in the vault only once every file has arrived and been verified;
    an interrupted or failed download leaves the vault as it was."""
    if all_files and (quant or include_patterns):
        raise click.UsageError("--all takes every file: drop --quant and --include")
    devon = context.devon
    source, reference = devon.resolve(model, source=source)
    choice = Choice(quant, include_patterns or None, require_choice=not all_files)
    try:
        if dry_run:
            plan = devon.plan_download(
                model,
                source=source,
                quant=choice.quant,
                include_patterns=choice.include_patterns,
                force=force,
                require_choice=choice.require_choice,
            )
            _show_plan(context, plan, as_json)
            return
        label = f"{reference.model_id}:{parse_quant_tag(quant)}" if quant else str(reference)
        _download(context, model, source, label, choice, force, as_json)
    except ChoiceNeeded as error:
        _show_choices(context, error)
        raise


@attrs.frozen
class Choice:
    """Which files of the model the command asked for."""

    quant: str | None
    include_patterns: tuple[str, ...] | None
    require_choice: bool


def _download(
    context: CliContext,
    model: str,
    source: str,
    label: str,
    choice: Choice,
    force: bool,
    as_json: bool,
) -> None:
    from devon_cli.progress import progress_bar  # rich.progress only when downloading

    devon = context.devon
    console = context.err
    if not console.is_terminal and not as_json:
        console.print(plain(f"Downloading {label} from {source}..."))
    started = time.monotonic()
    with progress_bar(console, label) as progress:
        outcome = devon.download_outcome(
            model,
            source=source,
            force=force,
            progress=progress,
            quant=choice.quant,
            include_patterns=choice.include_patterns,
            require_choice=choice.require_choice,
        )
    elapsed = time.monotonic() - started
    result = outcome.model
    if as_json:
        emit_json(unstructure(DownloadResult.of(result)))
    elif not outcome.transferred:
        context.out.print(
            plain(
                f"{result.model_id} is already in the vault: {_files_and_size(result)} → "
                f"{result.path} (use --force to download it again)"
            ),
            soft_wrap=True,
        )
    else:
        fetched = f"{files(len(outcome.fetched))}, {format_size(outcome.fetched_bytes)}"
        held = (
            f" (the model now holds {_files_and_size(result)})"
            if len(outcome.fetched) != len(result.files)
            else ""
        )
        context.out.print(
            plain(f"Downloaded {label}: {fetched} in {elapsed:.1f} s{held} → {result.path}"),
            soft_wrap=True,
        )


def _show_plan(context: CliContext, plan: DownloadPlan, as_json: bool) -> None:
    if as_json:
        emit_json(unstructure(plan))
        return
    out = context.out
    revision = f" at revision {plan.revision[:12]}" if plan.revision else ""
    out.print(plain(f"{plan.model_id} from {plan.source}{revision} would fetch:"), soft_wrap=True)
    out.print(file_table([(f.path, f.size_bytes) for f in plan.files]))
    out.print(plain(f"\nTotal: {files(len(plan.files))}, {format_size(plan.total_bytes)}."))
    if plan.present and plan.files:
        out.print("The vault holds this model: these files would be added to it.")
    elif plan.present:
        out.print("The vault already holds this model and every file asked for.")
    out.print("Dry run: nothing fetched.")


def _show_choices(context: CliContext, error: ChoiceNeeded) -> None:
    """The quantisations to choose from, each with its size and the command that takes it."""
    model_id = error.model_id or "MODEL"
    context.err.print(plain(f"{model_id} holds these GGUF quantisations:"))
    context.err.print(quantization_table(model_id, error.quantizations))
    context.err.print(plain(f"Every file: devon download {model_id} --all"))


def _files_and_size(model: LocalModel) -> str:
    return f"{files(len(model.files))}, {format_size(model.size_bytes)}"
