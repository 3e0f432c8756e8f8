""" "Did you mean": the closest of the values DEVON knows to one a user typed."""

import difflib
from collections.abc import Iterable

CUTOFF = 0.6


def closest(typed: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """Up to `limit` of `known` that `typed` most likely meant, best first, compared without
    case: an exact match but for case, then those `typed` starts (`apache` ->
    `apache-2.0`), then similar spellings. Empty when nothing is close."""
    wanted = typed.strip().lower()
    if not wanted:
        return []
    by_lower: dict[str, str] = {}
    for value in known:
        by_lower.setdefault(value.lower(), value)
    if wanted in by_lower:
        return [by_lower[wanted]]
    prefixed = [v for v in by_lower if v.startswith(wanted) or wanted.startswith(v)]
    similar = difflib.get_close_matches(wanted, list(by_lower), n=limit, cutoff=CUTOFF)
    ranked = sorted(
        dict.fromkeys([*prefixed, *similar]),
        key=lambda v: (v not in prefixed, -difflib.SequenceMatcher(None, wanted, v).ratio(), v),
    )
    return [by_lower[v] for v in ranked[:limit]]


def did_you_mean(typed: str, known: Iterable[str]) -> str:
    """` (did you mean X?)`, or an empty string when nothing known is close."""
    found = closest(typed, known, limit=1)
    if not found:
        return ""
    return f" (did you mean {' or '.join(found)}?)"
