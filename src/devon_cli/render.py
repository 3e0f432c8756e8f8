"""How results look at a terminal: tables, sizes, counts, and the `--json` form."""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from devon_core.models import LocalModel, RemoteModel
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


def search_table(models: Sequence[RemoteModel]) -> Table:
    table = Table(box=None, pad_edge=False, collapse_padding=True, header_style="bold")
    table.add_column("name", overflow="fold", min_width=16, ratio=1)
    table.add_column("author", overflow="ellipsis", no_wrap=True, max_width=14)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("format", overflow="ellipsis", no_wrap=True, max_width=11)
    table.add_column("quant", overflow="ellipsis", no_wrap=True, max_width=8)
    table.add_column("downloads", justify="right", no_wrap=True)
    for model in models:
        table.add_row(
            *_row(
                model.model_name,
                model.author or NONE,
                format_params(model.parameter_count),
                format_size(model.total_size_bytes),
                ",".join(model.format) or NONE,
                _quantisation(model.quantization),
                format_count(model.downloads),
            )
        )
    return table


def _quantisation(text: str | None) -> str:
    """One quantisation as is; a repository of several (GGUF) as their number."""
    kinds = [kind for kind in (text or "").split(",") if kind.strip()]
    if len(kinds) > 1:
        return f"{len(kinds)} kinds"
    return kinds[0] if kinds else NONE


def local_table(models: Sequence[LocalModel]) -> Table:
    table = Table(box=None, pad_edge=False, collapse_padding=True, header_style="bold")
    table.add_column("model", overflow="fold", ratio=3)
    table.add_column("source", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("files", justify="right", no_wrap=True)
    table.add_column("last used", no_wrap=True)
    for model in models:
        table.add_row(
            *_row(
                model.model_id,
                model.source,
                format_size(model.size_bytes),
                str(len(model.files)),
                format_time(model.last_used),
            )
        )
    return table


def details(rows: Sequence[tuple[str, str]]) -> Text:
    """Field and value, one pair a line, values aligned. Lines are not cut: long paths stay
    whole for copying, and the terminal wraps them if it must."""
    width = max((len(field) for field, _ in rows), default=0) + 2
    text = Text()
    for index, (field, value) in enumerate(rows):
        text.append(field.ljust(width), style="bold")
        text.append(value + ("\n" if index < len(rows) - 1 else ""))
    return text


def local_rows(model: LocalModel) -> list[tuple[str, str]]:
    return [
        ("path", model.path),
        ("size", format_size(model.size_bytes)),
        ("files", _file_list(model.files)),
        ("downloaded", format_time(model.downloaded_at)),
        ("last used", format_time(model.last_used)),
    ]


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
        ("quantisation", (model.quantization or NONE).replace(",", ", ")),
        ("architecture", model.architecture or NONE),
        ("license", model.license or NONE),
        ("tags", ", ".join(model.tags) or NONE),
        ("downloads", f"{model.downloads:,}"),
        ("likes", f"{model.likes:,}"),
        ("updated", _remote_time(model.updated_at)),
        ("web", model.web_url or NONE),
    ]
