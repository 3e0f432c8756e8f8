"""Which of the Hub's endpoints a request path names (ADR 0215): parsing only.

Served: `/api/models/{repo}`, `/api/models/{repo}/revision/{rev}`, `/api/models/{repo}/refs`
(which llama.cpp reads), `/api/models/{repo}/tree/{rev}[/{path}]` and
`/{repo}/resolve/{rev}/{path}` (`{repo}` is
`owner/name` or a bare legacy `name`). Recognised and refused: the other repository types
(`datasets`, `spaces`) and every write (uploads, commits, new repositories). Anything else
is not a Hub path and goes on to DEVON's own routes.
"""

from urllib.parse import unquote

import attrs

INFO = "info"
TREE = "tree"
REFS = "refs"
RESOLVE = "resolve"
NOT_SERVED = "not-served"
"""A Hub path this server does not serve (404)."""
READ_ONLY = "read-only"
"""A write to a model repository (405)."""

_MODEL_SUBPATHS = frozenset(
    {"revision", "tree", "paths-info", "refs", "commits", "commit", "preupload", "resolve",
     "settings", "branch", "tag", "lfs-files", "upload"}
)  # fmt: skip
_OTHER_TYPES = ("datasets", "spaces")


@attrs.frozen
class HubPath:
    kind: str
    repo_id: str = ""
    revision: str = "main"
    path: str = ""


def parse_hub_path(method: str, raw_path: str) -> HubPath | None:
    """The Hub endpoint `method raw_path` names, or None when it is none of the Hub's.
    `raw_path` is still percent-encoded: each segment is decoded on its own, so that a
    revision sent as `refs%2Fpr%2F1` stays one segment."""
    segments = [unquote(part) for part in raw_path.split("/")[1:]]
    if segments[:1] == ["api"] and len(segments) >= 2:
        return _api_path(method, segments[1:])
    if segments[:1] and segments[0] in _OTHER_TYPES and len(segments) >= 3:
        return HubPath(NOT_SERVED)
    for at in (2, 1):
        if len(segments) > at + 2 and segments[at] == RESOLVE and all(segments[:at]):
            repo_id = "/".join(segments[:at])
            return HubPath(RESOLVE, repo_id, segments[at + 1], "/".join(segments[at + 2 :]))
    return None


def _api_path(method: str, segments: list[str]) -> HubPath | None:
    kind, rest = segments[0], [s for s in segments[1:]]
    if kind in _OTHER_TYPES:
        return HubPath(NOT_SERVED)
    if kind == "repos" and rest:  # create, move, delete
        return HubPath(READ_ONLY)
    if kind != "models" or not rest or not rest[0]:
        return None  # `/api/models` (the search listing) and DEVON's own `/api/v1`
    repo_id, tail = _split_repo(rest)
    if method not in ("GET", "HEAD"):
        return HubPath(READ_ONLY, repo_id)
    if not tail:
        return HubPath(INFO, repo_id)
    if tail[0] == "revision" and len(tail) == 2:
        return HubPath(INFO, repo_id, tail[1])
    if tail == [REFS]:
        return HubPath(REFS, repo_id)
    if tail[0] == "tree" and len(tail) >= 2:
        return HubPath(TREE, repo_id, tail[1], "/".join(tail[2:]).strip("/"))
    return HubPath(NOT_SERVED, repo_id)


def _split_repo(segments: list[str]) -> tuple[str, list[str]]:
    """(`owner/name` or bare `name`, the segments after it)."""
    if len(segments) >= 2 and segments[1] not in _MODEL_SUBPATHS:
        return f"{segments[0]}/{segments[1]}", segments[2:]
    return segments[0], segments[1:]
