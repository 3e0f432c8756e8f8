"""`devon search`: find models on a source with the API's filters."""

import attrs
import click

from devon_cli.context import CliContext
from devon_cli.options import json_option, search_filter_options
from devon_cli.render import emit_json, plain, print_table, search_table
from devon_core.results import (
    DEFAULT_SEARCH_LIMIT,
    MAX_SEARCH_LIMIT,
    MIN_SEARCH_LIMIT,
    SearchFilters,
)


@click.command(
    short_help="Search a source for models, with filters.",
    epilog="""\b
Examples:
  devon search qwen --params '<=8b'
  devon search --provider meta-llama --format safetensors --license llama3.1
  devon search llama --format gguf --quant Q4_K_M --size '<6gb'
  devon search llama --format gguf --size '<10gb' --limit 5 --json

For GGUF repos, --size bounds one quantisation's size, not the repo's total: a repo matches
when one of its quantisations does (and --quant names which); the quant column then lists
the quantisations that match, with their sizes.""",
)
@click.argument("query", required=False)
@search_filter_options
@click.option(
    "--limit", type=int, default=DEFAULT_SEARCH_LIMIT, show_default=True, help="At most 1-200."
)
@click.option(
    "--source",
    default=None,
    metavar="NAME",
    help="Source plugin to search (default: the default_source setting).",
)
@json_option
@click.pass_obj
def search(
    context: CliContext,
    /,
    query: str | None,
    limit: int,
    source: str,
    as_json: bool,
    **filter_texts: str | None,
) -> None:
    """Search a source (Hugging Face by default) for models, most downloaded first."""
    devon = context.devon
    filters = SearchFilters.parse(**filter_texts)
    if as_json:
        emit_json(devon.search(query, source=source, filters=filters, limit=limit))
        return
    # One more than asked for (when the limit allows) says whether more models match.
    asked = limit + 1 if MIN_SEARCH_LIMIT <= limit < MAX_SEARCH_LIMIT else limit
    result = devon.search(query, source=source, filters=filters, limit=asked)
    more = len(result.results) > limit or (limit == MAX_SEARCH_LIMIT == len(result.results))
    result = attrs.evolve(result, results=result.results[:limit])
    if not result.results:
        hints = devon.search_hints(query, source=source, filters=filters)
        tried = " ".join(f"--{field} {values[0]}" for field, values in hints.items())
        context.err.print(
            plain(f"No models match. Did you mean {tried}?" if hints else "No models match.")
        )
    else:
        matching = filters.matching_quantizations if (filters.size or filters.quant) else None
        print_table(context.out, search_table(result.results, matching))
        if more:
            context.err.print(_more_hint(limit))


def _more_hint(limit: int) -> str:
    if limit >= MAX_SEARCH_LIMIT:
        return f"Showing the first {limit}; more models may match: narrow the search."
    return (
        f"Showing the first {limit}; more models match: --limit {min(limit * 2, MAX_SEARCH_LIMIT)}"
        f" shows more (up to {MAX_SEARCH_LIMIT})."
    )
