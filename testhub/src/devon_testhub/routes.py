"""Which Hub endpoint a URL path names: pure parsing, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from devon_testhub.catalogue import Catalogue

_API_SUBPATHS = {"revision", "tree", "paths-info", "refs", "commits", "resolve"}


@dataclass(frozen=True)
class Route:
    """`kind` is one of: list, info, tree, paths-info, resolve, whoami, unknown."""

    kind: str
    repo_id: str = ""
    revision: str = "main"
    path: str = ""


def _split_repo(segments: list[str], catalogue: Catalogue) -> tuple[str, list[str]]:
    """Split decoded segments into a repo id (`owner/name` or bare `name`) and the rest."""
    if len(segments) >= 2 and f"{segments[0]}/{segments[1]}" in catalogue:
        return f"{segments[0]}/{segments[1]}", segments[2:]
    if segments[0] in catalogue:
        return segments[0], segments[1:]
    if len(segments) >= 2 and segments[1] not in _API_SUBPATHS:
        return f"{segments[0]}/{segments[1]}", segments[2:]
    return segments[0], segments[1:]


def parse_route(raw_path: str, catalogue: Catalogue) -> Route:
    """Route a raw (still percent-encoded) URL path. Each segment is decoded on its own, so a
    revision or tree path sent with `%2F` stays one value."""
    segments = [unquote(part) for part in raw_path.split("/")[1:]]
    while segments and segments[-1] == "" and len(segments) > 1:
        segments.pop()
    if segments == ["api", "whoami-v2"]:
        return Route("whoami")
    if segments[:2] == ["api", "models"]:
        rest = segments[2:]
        if not rest or rest == [""]:
            return Route("list")
        repo_id, tail = _split_repo(rest, catalogue)
        if not tail:
            return Route("info", repo_id)
        if tail[0] == "revision" and len(tail) == 2:
            return Route("info", repo_id, tail[1])
        if tail[0] == "tree" and len(tail) >= 2:
            return Route("tree", repo_id, tail[1], "/".join(tail[2:]))
        if tail[0] == "paths-info" and len(tail) == 2:
            return Route("paths-info", repo_id, tail[1])
        return Route("unknown")
    for at in (2, 1):
        if len(segments) > at + 2 and segments[at] == "resolve":
            repo_id = "/".join(segments[:at])
            return Route("resolve", repo_id, segments[at + 1], "/".join(segments[at + 2 :]))
    return Route("unknown")
