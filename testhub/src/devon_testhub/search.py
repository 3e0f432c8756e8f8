"""`/api/models` query semantics: which repos match, in what order."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from devon_testhub.repos import Repo
from devon_testhub.shapes import trending_score

SORT_KEYS = {
    "downloads": "downloads",
    "likes": "likes",
    "createdAt": "createdAt",
    "created_at": "createdAt",
    "lastModified": "lastModified",
    "last_modified": "lastModified",
    "trendingScore": "trendingScore",
    "trending_score": "trendingScore",
}
_PARAM_BOUND = re.compile(r"^(min|max):\s*([0-9.]+)\s*([kmbt]?)$", re.IGNORECASE)
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}


class BadQuery(ValueError):
    """A query value the Hub would answer 400 for."""


def query_flag(params: Mapping[str, Sequence[str]], name: str) -> bool:
    """A true/false query parameter as the Hub reads it: its last value, 1/true/yes."""
    values = params.get(name)
    return bool(values) and values is not None and values[-1].lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class ListQuery:
    search: str | None = None
    author: str | None = None
    filters: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    gated: bool | None = None
    num_parameters: tuple[int | None, int | None] = (None, None)
    sort: str = "trendingScore"
    ascending: bool = False
    limit: int | None = None
    full: bool = False
    card_data: bool = False
    config: bool = False
    expand: tuple[str, ...] = field(default=())

    @classmethod
    def from_params(cls, params: Mapping[str, Sequence[str]]) -> ListQuery:
        def one(name: str) -> str | None:
            values = params.get(name)
            return values[-1] if values else None

        sort_name = one("sort") or "trendingScore"
        if sort_name not in SORT_KEYS:
            raise BadQuery(f"Invalid sort parameter: {sort_name}")
        direction = one("direction") or "-1"
        if direction not in ("-1", "1"):
            raise BadQuery(f"Invalid direction: {direction}")
        limit_text = one("limit")
        limit: int | None = None
        if limit_text is not None:
            if not limit_text.isdigit() or int(limit_text) < 1:
                raise BadQuery(f"Invalid limit: {limit_text}")
            limit = int(limit_text)
        gated_text = one("gated")
        expand: list[str] = []
        for value in params.get("expand", []):
            expand.extend(part for part in value.split(",") if part)
        for value in params.get("expand[]", []):
            expand.append(value)
        return cls(
            search=one("search"),
            author=one("author"),
            filters=tuple(
                part for value in params.get("filter", []) for part in value.split(",") if part
            ),
            pipeline_tag=one("pipeline_tag"),
            gated=None if gated_text is None else gated_text.lower() == "true",
            num_parameters=_parse_num_parameters(one("num_parameters")),
            sort=SORT_KEYS[sort_name],
            ascending=direction == "1",
            limit=limit,
            full=query_flag(params, "full"),
            card_data=query_flag(params, "cardData"),
            config=query_flag(params, "config"),
            expand=tuple(expand),
        )


def _parse_num_parameters(text: str | None) -> tuple[int | None, int | None]:
    if not text:
        return (None, None)
    low: int | None = None
    high: int | None = None
    for part in text.split(","):
        match = _PARAM_BOUND.match(part.strip())
        if not match:
            raise BadQuery(f"Invalid num_parameters: {text}")
        value = int(float(match.group(2)) * _UNITS[match.group(3).lower()])
        if match.group(1).lower() == "min":
            low = value
        else:
            high = value
    return (low, high)


def _matches_filter(repo: Repo, wanted: str) -> bool:
    wanted = wanted.lower()
    candidates = {tag.lower() for tag in repo.tags}
    candidates.update(
        value.lower() for value in (repo.pipeline_tag, repo.library_name, repo.id) if value
    )
    return wanted in candidates


def matches(repo: Repo, query: ListQuery, authorised: bool) -> bool:
    if repo.private and not authorised:
        return False
    if query.search:
        words = query.search.lower().split()
        if not all(word in repo.id.lower() for word in words):
            return False
    if query.author and (repo.author or "").lower() != query.author.lower():
        return False
    if query.pipeline_tag and repo.pipeline_tag != query.pipeline_tag:
        return False
    if query.gated is not None and bool(repo.gated) != query.gated:
        return False
    low, high = query.num_parameters
    if low is not None or high is not None:
        total = repo.parameter_total
        if (
            total is None
            or (low is not None and total < low)
            or (high is not None and total > high)
        ):
            return False
    return all(_matches_filter(repo, wanted) for wanted in query.filters)


def _sort_value(repo: Repo, key: str) -> tuple[float | str, str]:
    value: float | str
    if key == "downloads":
        value = repo.downloads
    elif key == "likes":
        value = repo.likes
    elif key == "createdAt":
        value = repo.created_at.isoformat()
    elif key == "lastModified":
        value = repo.last_modified.isoformat()
    else:
        value = trending_score(repo)
    return (value, repo.id)


def run_query(repos: Iterable[Repo], query: ListQuery, authorised: bool) -> list[Repo]:
    """Matching repos in the order the Hub would list them (descending unless `direction=1`)."""
    found = [repo for repo in repos if matches(repo, query, authorised)]
    found.sort(key=lambda repo: _sort_value(repo, query.sort), reverse=not query.ascending)
    return found
