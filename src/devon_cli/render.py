"""How results look at a terminal: tables, sizes, counts, and the `--json` form."""

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from devon_core.models import LocalModel, RemoteModel
from devon_core.quantizations import Quantization, quant_label
from devon_core.rules import format_bytes
from devon_core.serialization import parse_timestamp, timestamp, unstructure

NONE = "-"


def plain(text: str) -> Text:
    """Text printed as is: ids and paths are never read as rich markup."""
    return Text(text)


def _row(*cells: str) -> list[Text]:
    return [plain(cell) for cell in cells]


def emit_json(result: Any) -> None:
    """A result as one line of JSON on stdout: the HTTP API's shape for the same operation."""
    data = result if isinstance(result, dict) else unstructure(result)
    click.echo(json.dumps(data))


def format_params(billions: float | None) -> str:
    """A parameter count for people: `7.6B`, `500M`, `1.5B`, `1T`."""
    if billions is None:
        return NONE
    for unit, scale in (("T", 1e3), ("B", 1.0), ("M", 1e-3), ("K", 1e-6)):
        if billions >= scale or unit == "K":
            return f"{_short(billions / scale)}{unit}"
    return NONE  # pragma: no cover - the loop always returns


def format_count(count: int) -> str:
    """A download count for people: `985K`, `1.2M`."""
    for unit, scale in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= scale:
            return f"{_short(count / scale)}{unit}"
    return str(count)


def _short(value: float) -> str:
    text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
    return text.removesuffix(".0")


def _remote_time(text: str) -> str:
    try:
        return format_time(parse_timestamp(text))
    except ValueError:
        return text or NONE


def format_time(value: datetime | None) -> str:
    """A vault timestamp shortened to the minute, in UTC."""
    if value is None:
        return "never"
    return timestamp(value)[:16].replace("T", " ")


def plural(count: int, noun: str) -> str:
    """`1 model`, `3 models`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def files(count: int) -> str:
    return plural(count, "file")


def format_size(size_bytes: int) -> str:
    return format_bytes(size_bytes)


def print_table(console: Console, table: Table) -> None:
    """Print `table` whole: at least as wide as its unwrappable cells need (ids, sizes),
    even past the terminal's width, rather than cutting or wrapping an id."""
    for column in table.columns:
        if column.no_wrap:
            cells = [column.header, *column.cells]
            widths = [Measurement.get(console, console.options, c).maximum for c in cells]
            column.min_width = max([column.min_width or 0, *widths])
    needed = Measurement.get(console, console.options, table).minimum
    console.print(table, width=max(console.width, needed), crop=False)


def _table() -> Table:
    return Table(box=None, pad_edge=False, collapse_padding=True, header_style="bold")


def _id_column(table: Table, ids: Sequence[str], header: str = "id") -> None:
    """The one id column every table has: `owner/name`, whole on one line (never wrapped or
    cut) so that it can be copied back into any command."""
    width = max((len(i) for i in ids), default=len(header))
    table.add_column(header, no_wrap=True, overflow="ignore", min_width=max(width, len(header)))


def search_table(
    models: Sequence[RemoteModel],
    matching: Callable[[RemoteModel], Sequence[Quantization]] | None = None,
) -> Table:
    """Search results; with `matching` (a quantisation or size filter was given), the quant
    column names the quantisations that matched, with their sizes."""
    table = _table()
    _id_column(table, [m.model_id for m in models])
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("format", no_wrap=True)
    table.add_column("quant", no_wrap=True)
    table.add_column("downloads", justify="right", no_wrap=True)
    for model in models:
        chosen = matching(model) if matching is not None else ()
        table.add_row(
            *_row(
                model.model_id,
                format_params(model.parameter_count),
                format_size(model.total_size_bytes),
                ",".join(model.format) or NONE,
                _quantizations(chosen) if chosen else _quantisation(model.quantization),
                format_count(model.downloads),
            )
        )
    return table


def _quantizations(quants: Sequence[Quantization]) -> str:
    return "\n".join(f"{q.name} {format_size(q.size_bytes)}" for q in quants)


def _quantisation(text: str | None, per_line: int = 4) -> str:
    """The quantisations a repository holds, by name, `per_line` names a line."""
    kinds = [kind.strip() for kind in (text or "").split(",") if kind.strip()]
    lines = [", ".join(kinds[i : i + per_line]) for i in range(0, len(kinds), per_line)]
    return ",\n".join(lines) or NONE


def quantization_table(model_id: str, quants: Sequence[Quantization]) -> Table:
    """Each quantisation with its size, its file count and the command that downloads it."""
    table = _table()
    table.add_column("quant", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("files", justify="right", no_wrap=True)
    table.add_column("command", no_wrap=True, overflow="ignore")
    for quant in quants:
        table.add_row(
            *_row(
                quant.name,
                format_size(quant.size_bytes),
                str(len(quant.files)),
                f"devon download {model_id}:{quant.name}",
            )
        )
    return table


def file_table(rows: Sequence[tuple[str, int | None]]) -> Table:
    """Files and their sizes (None: unknown), with the quantisation each belongs to."""
    table = _table()
    table.add_column("file", no_wrap=True, overflow="ignore")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("quant", no_wrap=True)
    for path, size in rows:
        table.add_row(
            *_row(path, NONE if size is None else format_size(size), quant_label(path) or "")
        )
    return table


def local_table(
    models: Sequence[LocalModel],
    held: Callable[[LocalModel], Sequence[Quantization]] = lambda model: (),
) -> Table:
    """The vault's models; `held` gives the GGUF quantisations each holds (with sizes), one
    a line in the quant column."""
    table = _table()
    _id_column(table, [m.model_id for m in models])
    table.add_column("source", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("files", justify="right", no_wrap=True)
    table.add_column("quant", no_wrap=True)
    table.add_column("last used", no_wrap=True)
    for model in models:
        quants = held(model)
        table.add_row(
            *_row(
                model.model_id,
                model.source,
                format_size(model.size_bytes),
                str(len(model.files)),
                _quantizations(quants) if quants else NONE,
                last_used(model),
            )
        )
    return table


def last_used(model: LocalModel) -> str:
    """When the model was last used. Its arrival in the vault (a download, or a scan or
    adopt) counts as a use, as `clean --unused` sees it: a model not used since shows that
    time, marked `(added)`."""
    if model.last_used is None:
        return f"{format_time(model.downloaded_at)} (added)"
    return format_time(model.last_used)


def details(rows: Sequence[tuple[str, str]]) -> Text:
    """Field and value, one pair a line, values aligned. Lines are not cut: long paths stay
    whole for copying, and the terminal wraps them if it must."""
    width = max((len(field) for field, _ in rows), default=0) + 2
    text = Text()
    for index, (field, value) in enumerate(rows):
        text.append(field.ljust(width), style="bold")
        text.append(value + ("\n" if index < len(rows) - 1 else ""))
    return text


def local_rows(model: LocalModel, quants: Sequence[Quantization] = ()) -> list[tuple[str, str]]:
    rows = [
        ("path", model.path),
        ("size", format_size(model.size_bytes)),
        ("files", _file_list(model.files)),
    ]
    if quants:
        rows.append(("quantisations", sized_quantizations(quants)))
    rows += [
        ("downloaded", format_time(model.downloaded_at)),
        ("last used", last_used(model)),
    ]
    return rows


def sized_quantizations(quants: Sequence[Quantization]) -> str:
    """`Q4_K_M 44.0 KiB, Q8_0 76.0 KiB`."""
    return ", ".join(f"{q.name} {format_size(q.size_bytes)}" for q in quants)


def _file_list(paths: Sequence[str], shown: int = 8) -> str:
    if not paths:
        return "0"
    names = ", ".join(paths[:shown])
    more = f", and {len(paths) - shown} more" if len(paths) > shown else ""
    return f"{len(paths)}: {names}{more}"


def remote_rows(model: RemoteModel) -> list[tuple[str, str]]:
    return [
        ("author", model.author or NONE),
        ("params", format_params(model.parameter_count)),
        ("size", f"{format_size(model.total_size_bytes)} in {files(model.file_count)}"),
        ("format", ", ".join(model.format) or NONE),
        (
            "quantisation",
            sized_quantizations(model.quantizations)
            if model.quantizations
            else (model.quantization or NONE).replace(",", ", "),
        ),
        ("architecture", model.architecture or NONE),
        ("license", model.license or NONE),
        ("tags", ", ".join(model.tags) or NONE),
        ("downloads", f"{model.downloads:,}"),
        ("likes", f"{model.likes:,}"),
        ("updated", _remote_time(model.updated_at)),
        ("web", model.web_url or NONE),
    ]
