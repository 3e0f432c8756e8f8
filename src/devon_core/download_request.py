"""`DownloadRequest`: what a download is asked for, as a caller types it."""

from collections.abc import Iterable

import attrs


def _patterns(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen
class DownloadRequest:
    """A download as asked for: `model` is any reference the source reads (`owner/name`,
    `owner/name:Q4_K_M`, a Hub file URL, `<source>/<id>`); `quant` selects a quantisation
    as `:QUANT` does; `include_patterns` (globs) limit the files; `force` fetches again
    what the vault holds; `require_choice` refuses a repo of several GGUF quantisations
    and no selection (ChoiceNeeded), as the CLI asks. Nothing is checked until it is used
    (`Devon.downloads`), so building one never fails on a bad reference."""

    model: str
    source: str | None = None
    quant: str | None = None
    include_patterns: tuple[str, ...] | None = attrs.field(default=None, converter=_patterns)
    force: bool = False
    require_choice: bool = False
