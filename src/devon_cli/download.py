"""`devon download`: bring a model into the vault with a live progress bar."""

import time

import click

from devon_cli.context import CliContext
from devon_cli.options import json_option, source_option
from devon_cli.render import emit_json, files, format_size
from devon_core.identifiers import parse_model_reference
from devon_core.models import LocalModel
from devon_core.results import DownloadResult
from devon_core.serialization import unstructure


@click.command(
    short_help="Download a model into the vault.",
    epilog="""\b
Examples:
  devon download Qwen/Qwen2.5-0.5B-Instruct
  devon download https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct
  devon download bartowski/Llama-3.2-1B-Instruct-GGUF --include '*Q4_K_M*'
  devon download Qwen/Qwen2.5-0.5B-Instruct --force --json

An interrupted download resumes when the same command is run again.""",
)
@click.argument("model")
@click.option(
    "--include",
    "include_patterns",
    multiple=True,
    metavar="GLOB",
    help="Only files matching this glob (repeatable), e.g. '*Q4_K_M*' or '*.json'.",
)
@click.option("--force", is_flag=True, help="Download again even if the vault has the model.")
@source_option
@json_option
@click.pass_obj
def download(
    context: CliContext,
    model: str,
    include_patterns: tuple[str, ...],
    force: bool,
    source: str,
    as_json: bool,
) -> None:
    """Download MODEL into the vault (an id or its Hugging Face URL).

    The model appears in the vault only once every file has arrived and been verified;
    an interrupted or failed download leaves the vault as it was."""
    from devon_cli.progress import progress_bar  # rich.progress only when downloading

    model_id = parse_model_reference(model)
    devon = context.devon
    console = context.err
    if not console.is_terminal and not as_json:
        console.print(f"Downloading {model_id} from {source}...")
    requested_at = devon.clock.now()
    started = time.monotonic()
    with progress_bar(console, model_id) as progress:
        result = devon.download(
            model_id,
            source=source,
            force=force,
            include_patterns=include_patterns or None,
            progress=progress,
        )
    elapsed = time.monotonic() - started
    if as_json:
        emit_json(unstructure(DownloadResult.of(result)))
    elif result.downloaded_at < requested_at:
        context.out.print(
            f"{model_id} is already in the vault: {_files_and_size(result)} → {result.path} "
            "(use --force to download it again)",
            soft_wrap=True,
        )
    else:
        context.out.print(
            f"Downloaded {model_id}: {_files_and_size(result)} in {elapsed:.1f} s → {result.path}",
            soft_wrap=True,
        )


def _files_and_size(model: LocalModel) -> str:
    return f"{files(len(model.files))}, {format_size(model.size_bytes)}"
