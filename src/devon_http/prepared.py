"""Answers prepared once per state of the vault: the encoded body, its ETag and, when a
client asks for it, its gzip form (ADR 0130).

Each server process keeps the answers of its read endpoints (list, status, export) keyed by
what the request asked and stamped with the vault's change counter read *before* the data
was read. A request first reads the counter (one indexed SQLite read): equal to the stamp,
the prepared bytes are current and are sent as they are; otherwise the answer is made again.
Data read after the counter can only be newer than the stamp says, so an answer is never
served for a vault state older than the one the request saw.

The ETag is a hash of the body, so it changes exactly when the body does: a change of
counter that changes nothing (a rebuild writing the same rows) keeps the tag.
"""

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from litestar import MediaType, Response

COMPRESS_FROM_BYTES = 1024
"""Smaller bodies are sent as they are: gzip would save less than a packet."""
GZIP_LEVEL = 5
"""zlib level for cached gzip forms (ADR 0130: level 5 is within 5% of level 9's size on
a model list at a third of its time)."""
MAX_CACHED_ANSWERS = 64
"""Answers kept per process (one per endpoint, source filter and export format in use)."""

VARY = "Accept-Encoding"


class Prepared:
    """One encoded JSON answer, its strong ETag, and its gzip form made on first demand."""

    __slots__ = ("_gzip", "body", "etag", "gzip_etag")

    def __init__(self, body: bytes) -> None:
        self.body = body
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        self.etag = f'"{digest}"'
        self.gzip_etag = f'"{digest}-gzip"'
        """The gzip form is another representation, so it has its own strong tag."""
        self._gzip: bytes | None = None

    def gzipped(self) -> bytes:
        # Two threads may both compress once; each result is the same bytes.
        if self._gzip is None:
            self._gzip = gzip.compress(self.body, compresslevel=GZIP_LEVEL, mtime=0)
        return self._gzip

    @property
    def compressible(self) -> bool:
        return len(self.body) >= COMPRESS_FROM_BYTES


class PreparedCache:
    """The answers of one process, each stamped with the change counter it was made at."""

    def __init__(self, size: int = MAX_CACHED_ANSWERS) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[Hashable, Prepared]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, counter: Hashable) -> Prepared | None:
        """The answer for `key` if it was made at `counter`, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != counter:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, counter: Hashable, prepared: Prepared) -> None:
        with self._lock:
            self._entries[key] = (counter, prepared)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an `Accept-Encoding` value admits gzip (`gzip` or `*` with a non-zero q, and
    gzip not refused by name)."""
    if not accept_encoding:
        return False
    named: float | None = None
    star: float | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        quality = _quality(params)
        if coding in ("gzip", "x-gzip"):
            named = quality if named is None else max(named, quality)
        elif coding == "*":
            star = quality
    if named is not None:
        return named > 0
    return star is not None and star > 0


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def matches(if_none_match: str | None, *etags: str) -> bool:
    """RFC 9110's weak comparison of `If-None-Match` against the current tags."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/")
        if tag in etags:
            return True
    return False


def answer(
    prepared: Prepared,
    *,
    accept_encoding: str | None,
    if_none_match: str | None = None,
    tagged: bool = True,
) -> Response[Any]:
    """The response for a prepared answer: 304 (no body) when `If-None-Match` holds one of
    its tags, the gzip form when asked for and the body is large, else the body as it is.
    `tagged=False` (POST answers) sends neither ETag nor 304."""
    gzipped = prepared.compressible and accepts_gzip(accept_encoding)
    headers: dict[str, str] = {"Vary": VARY} if prepared.compressible else {}
    etag = prepared.gzip_etag if gzipped else prepared.etag
    if tagged:
        headers["ETag"] = etag
        if matches(if_none_match, prepared.etag, prepared.gzip_etag):
            return Response(content=b"", status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        return Response(content=prepared.gzipped(), media_type=MediaType.JSON, headers=headers)
    return Response(content=prepared.body, media_type=MediaType.JSON, headers=headers)
