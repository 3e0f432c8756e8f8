"""Looking after the installation: `devon doctor`, `devon rebuild-index`, `devon scan`,
`devon import-legacy`."""

from pathlib import Path

import attrs
import click

from devon_cli.context import CliContext, describe_settings
from devon_cli.errors import EXIT_FAILED
from devon_cli.options import json_option
from devon_cli.render import details, emit_json, format_size, plain, plural
from devon_core.errors import DevonError, StoreUnavailable
from devon_core.results import ScanResult


@attrs.frozen
class Check:
    name: str
    ok: bool
    detail: str


@click.command(
    short_help="Check the settings, the vault and each source.",
    epilog="""\b
Examples:
  devon doctor
  devon doctor --json""",
)
@json_option
@click.pass_obj
def doctor(context: CliContext, as_json: bool) -> None:
    """Check that DEVON can work: show the settings in effect, open the vault, and ask each
    source for one model. Exits 1 when a check fails."""
    settings: list[tuple[str, str]] = []
    try:
        settings = describe_settings()
        checks = _checks(context)
    except DevonError as error:
        where = "vault" if isinstance(error, StoreUnavailable) else "settings"
        checks = [Check(where, False, str(error))]
    if as_json:
        emit_json({"settings": dict(settings), "checks": [attrs.asdict(c) for c in checks]})
    else:
        if settings:
            context.out.print(details(settings), soft_wrap=True)
            context.out.print()
        rows = [(c.name, f"{'ok' if c.ok else 'FAILED'}: {c.detail}") for c in checks]
        context.out.print(details(rows), soft_wrap=True)
    if not all(check.ok for check in checks):
        click.get_current_context().exit(EXIT_FAILED)


def _checks(context: CliContext) -> list[Check]:
    diagnosis = context.devon.diagnose()
    status = diagnosis.status
    checks = [
        Check(
            "vault",
            True,
            f"{plural(status.model_count, 'model')}, {format_size(status.total_size_bytes)} "
            f"at {status.storage_path}; {format_size(diagnosis.free_bytes)} free on its disk",
        )
    ]
    if diagnosis.index is not None:
        checks.append(Check("index", True, diagnosis.index))
    if not diagnosis.sources:
        checks.append(Check("sources", False, "no source plugin could be loaded"))
    for source in diagnosis.sources:
        where = f" at {source.endpoint}" if source.endpoint else ""
        detail = f"answers{where}" if source.ok else source.detail
        checks.append(Check(f"source {source.name}", source.ok, detail))
    return checks


@click.command(
    "rebuild-index",
    short_help="Rebuild the vault's index from the files on disk.",
    epilog="""\b
Examples:
  devon rebuild-index
  devon rebuild-index --json""",
)
@json_option
@click.pass_obj
def rebuild_index(context: CliContext, as_json: bool) -> None:
    """Re-derive the vault's index from the model directories on disk.

    Models still on disk keep their recorded times; models whose directory is gone are
    dropped from the index. Only needed after files were moved or deleted by hand."""
    devon = context.devon
    count = devon.rebuild_index()
    if as_json:
        emit_json({"model_count": count, "storage_path": devon.storage_path})
        return
    context.out.print(plain(f"Index rebuilt: {plural(count, 'model')} in {devon.storage_path}"))


@click.command(
    "copy-index",
    short_help="Copy the vault's index to SQLite or PostgreSQL.",
    epilog="""\b
Examples:
  devon copy-index postgresql://db.lab/devon     # one host -> many: then set DEVON_DATABASE_URL
  DEVON_DATABASE_URL=postgresql://db.lab/devon devon copy-index sqlite    # and back
  devon copy-index postgresql://db.lab/devon --replace --json""",
)
@click.argument("target")
@click.option("--replace", is_flag=True, help="Drop the models the target already lists.")
@json_option
@click.pass_obj
def copy_index_command(context: CliContext, target: str, replace: bool, as_json: bool) -> None:
    """Copy the index of this vault (SQLite in the vault, or the PostgreSQL database of
    DEVON_DATABASE_URL) to TARGET: `sqlite` (the index file in the vault) or a
    postgresql:// URL. The files stay where they are; every model keeps its recorded times
    and metadata. Point DEVON_DATABASE_URL at the target afterwards (or unset it for sqlite).
    Refuses a target that already lists models, unless --replace."""
    done = context.devon.copy_index(target, replace=replace)
    if as_json:
        emit_json(done)
    else:
        replaced = f" (replacing {plural(done.replaced, 'model')})" if done.replaced else ""
        context.out.print(
            plain(
                f"Copied {plural(done.model_count, 'model')} from {done.source} "
                f"to {done.target}{replaced}."
            ),
            soft_wrap=True,
        )


@click.command(
    "import-legacy",
    short_help="Import the models of a DEVON 1.x vault.",
    epilog="""\b
Examples:
  devon import-legacy ~/.devon            # copies; the 1.x vault stays as it was
  devon import-legacy ~/.devon --move     # moves each model once it is recorded
  devon import-legacy ~/.devon --json""",
)
@click.argument("legacy_path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--move", is_flag=True, help="Move the files instead of copying them.")
@json_option
@click.pass_obj
def import_legacy(context: CliContext, legacy_path: Path, move: bool, as_json: bool) -> None:
    """Bring the models of a DEVON 1.x vault (an `index.json` beside a `models/` folder) into
    this vault. Running it again imports nothing twice. Exits 1 when an entry had to be
    skipped (its files are missing, or its id is invalid); the others are imported."""
    report = context.devon.import_legacy(str(legacy_path), move=move)
    if as_json:
        emit_json(report)
    else:
        context.out.print(
            plain(
                f"Imported {plural(len(report.imported), 'model')} from {legacy_path}; "
                f"{len(report.already_present)} already in the vault, "
                f"{len(report.skipped)} skipped."
            ),
            soft_wrap=True,
        )
        for model, reason in report.skipped:
            context.err.print(plain(f"skipped {model}: {reason}"), soft_wrap=True)
    if report.skipped:
        click.get_current_context().exit(EXIT_FAILED)


@click.command(
    short_help="Register model folders placed in the vault by hand.",
    epilog="""\b
Examples:
  devon scan                  # register what is new, where it is
  devon scan --dry-run        # only say what a scan would do
  devon scan --move           # ... moving folders outside a source's folder to local/
  devon scan --reconcile      # ... and drop models whose folder is gone
  devon scan --json""",
)
@click.option("--reconcile", is_flag=True, help="Also drop models whose folder is gone.")
@click.option(
    "--move",
    is_flag=True,
    help="Move folders outside a source's folder to local/<name> (default: leave them).",
)
@click.option("--dry-run", is_flag=True, help="Only show what would be done.")
@json_option
@click.pass_obj
def scan(context: CliContext, reconcile: bool, move: bool, dry_run: bool, as_json: bool) -> None:
    """Register the model folders in the vault that it does not list yet, where they are.

    A folder under a source's folder (`huggingface/acme/my-model`) is registered as that
    source's model; any other folder (`my-finetune`) is registered in place under the
    built-in `local` source (`local/my-finetune`). Nothing is moved unless --move is given
    (then it goes to `local/my-finetune`, and each move is printed), and nothing is
    followed or written outside the vault. Format, architecture, quantisation and parameter
    count are inferred from the files and marked as inferred. Folders with no model file,
    or still being written (a `.part` file), are skipped and reported; run the scan again
    once they are complete. Exits 1 when a folder was skipped."""
    result = context.devon.scan(reconcile=reconcile, move=move, dry_run=dry_run)
    if as_json:
        emit_json(result)
    else:
        _print_scan(context, result, reconcile)
    if result.skipped:
        click.get_current_context().exit(EXIT_FAILED)


_DID = ("moved", "registered", "dropped")
_WOULD = ("would move", "would register", "would drop")
_DID_SUMMARY = ("Registered", "moved", "dropped", "skipped")
_WOULD_SUMMARY = ("Would register", "move", "drop", "skip")


def _print_scan(context: CliContext, result: ScanResult, reconcile: bool) -> None:
    said = _WOULD if result.dry_run else _DID
    for move in result.moved:
        context.out.print(plain(f"{said[0]} {move.origin} -> {move.target}"), soft_wrap=True)
    for model in result.registered:
        context.out.print(plain(f"{said[1]} {model}"), soft_wrap=True)
    for model in result.dropped:
        context.out.print(plain(f"{said[2]} {model} (its folder is gone)"), soft_wrap=True)
    verbs = _WOULD_SUMMARY if result.dry_run else _DID_SUMMARY
    summary = (
        f"{verbs[0]} {plural(len(result.registered), 'model')}"
        + (f", {verbs[1]} {len(result.moved)}" if result.moved else "")
        + (f", {verbs[2]} {len(result.dropped)}" if reconcile else "")
        + f", {verbs[3]} {plural(len(result.skipped), 'folder')} in {context.devon.storage_path}"
        + ("; nothing changed (dry run)." if result.dry_run else ".")
    )
    context.out.print(plain(summary), soft_wrap=True)
    for skip in result.skipped:
        context.err.print(plain(f"skipped {skip.path}: {skip.reason}"), soft_wrap=True)
