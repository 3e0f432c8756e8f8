"""Seeding between fleet hosts (ADRs 0242, 0282): a host fetching a model from its upstream
DEVON takes each file from a peer that has it (other hosts of the fleet, which serve the same
Hub paths: those holding the whole model, and those still copying it, for the files they have
landed), and from the upstream only when it is of the first wave and no peer has the file,
or when a peer fails. A host of a later wave waits for the first wave to land a file rather
than take it from the upstream. What arrives is verified as any download is (each LFS file's
sha256 from the upstream's info); a file that fails the check is fetched again from the
upstream alone (`from_origin`), so a peer can cost a second transfer but never let a wrong
byte in. A file with no sha256 to check (not an LFS file) comes from the upstream alone."""

import json
import logging
import threading
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx2

from devon_adapters.huggingface.file_server import HubFileServer
from devon_core.fleet import Seeds
from devon_core.stopping import current_stop

log = logging.getLogger("devon.fleet")

PEERS_TTL_S = 1.0
PEER_READ_TIMEOUT_S = 10.0
"""A peer sends from its disk: one silent this long is passed over for the upstream (whose
own read timeout allows for a pull from the Hub)."""
PEER_POLL_S = 0.5
"""How often a host of a later wave looks again for a peer that has landed a file."""
PEER_WAIT_S = 900.0
"""The longest a host waits for the first wave to land a file before it takes the file from
the upstream after all (a first-wave host that is online but stuck)."""


class PeerFinder:
    """Asks the upstream where a model's files are (`GET /api/v1/peers`: whole holders,
    hosts still copying it with the files they landed, and whether this host takes the rest
    from the upstream), at most once every `ttl` seconds per model; no peers, and the
    upstream, when it cannot say."""

    def __init__(self, upstream: str, key: str | None, host: str, ttl: float = PEERS_TTL_S) -> None:
        self.upstream = upstream.rstrip("/")
        self.key = key
        self.host = host
        self.ttl = ttl
        self._known: dict[str, tuple[float, Seeds]] = {}
        self._asking: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def __call__(self, model_id: str) -> Seeds:
        # One question at a time per model: the range threads of a download all ask at once,
        # and those that waited take the answer the first one brought.
        with self._lock:
            asking = self._asking.setdefault(model_id, threading.Lock())
        with asking:
            with self._lock:
                cached = self._known.get(model_id)
            if cached is not None and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            return self._ask(model_id)

    def _ask(self, model_id: str) -> Seeds:
        query = urllib.parse.urlencode({"model_id": model_id, "host": self.host})
        request = urllib.request.Request(f"{self.upstream}/api/v1/peers?{query}")  # noqa: S310
        if self.key:
            request.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                peers = _seeds(json.loads(response.read()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.info("no peers for %s (%s)", model_id, error)
            peers = Seeds()
        with self._lock:
            self._known[model_id] = (time.monotonic(), peers)
        return peers


def _seeds(answer: dict[str, Any]) -> Seeds:
    """`GET /api/v1/peers`'s answer (an upstream of before ADR 0282 sends `peers` only)."""
    landed = tuple(
        (str(row["url"]).rstrip("/"), tuple(str(f) for f in row["files"]))
        for row in answer.get("landed", [])
    )
    return Seeds(
        tuple(str(url).rstrip("/") for url in answer["peers"]),
        landed,
        bool(answer.get("from_central", True)),
    )


class SeedingFileServer(HubFileServer):
    """The upstream's files, fetched from a peer that has them where there is one: each
    file (or each range of a large file) from one of those peers in turn, the upstream when
    the peer does not answer with the bytes. A host of a later wave (`Seeds.from_central`
    false) waits for a peer to have a file rather than take it from the upstream."""

    name = "the upstream DEVON"

    def __init__(
        self,
        inner: HubFileServer,
        endpoint: str,
        peers: Callable[[str], Seeds | list[str]],
        *,
        poll_s: float = PEER_POLL_S,
        wait_s: float = PEER_WAIT_S,
    ) -> None:
        self._inner = inner
        self._endpoint = endpoint.rstrip("/")
        self._peers = peers
        self._poll_s = poll_s
        self._wait_s = wait_s
        self._origin_only: dict[str, int] = {}
        self._origin_lock = threading.Lock()
        super().__init__(inner.client)

    @contextmanager
    def from_origin(self, url: str) -> Iterator[None]:
        """Within: file `url` comes from the upstream alone (its copy from a peer failed the
        check)."""
        with self._origin_lock:
            self._origin_only[url] = self._origin_only.get(url, 0) + 1
        try:
            yield
        finally:
            with self._origin_lock:
                self._origin_only[url] -= 1
                if not self._origin_only[url]:
                    del self._origin_only[url]

    @contextmanager
    def open_file(
        self, url: str, start: int, read_timeout: float, end: int | None = None
    ) -> Iterator[httpx2.Response]:
        peer = self._peer_for(url, start)
        if peer is not None:
            stack = ExitStack()
            try:
                response = stack.enter_context(
                    self._inner.open_file(
                        peer + url[len(self._endpoint) :],
                        start,
                        min(read_timeout, PEER_READ_TIMEOUT_S),
                        end,
                    )
                )
            except Exception as error:  # the peer lacks it or is gone: the upstream has it
                log.info("peer %s did not answer for %s (%s)", peer, url, error)
            else:
                with stack:
                    yield response
                return
        with self._inner.open_file(url, start, read_timeout, end) as response:
            yield response

    def _peer_for(self, url: str, start: int) -> str | None:
        """The peer to ask for `url`'s bytes from `start` on; None: the upstream."""
        if not url.startswith(self._endpoint + "/") or "/resolve/" not in url:
            return None
        with self._origin_lock:
            if url in self._origin_only:
                return None
        model_id, rest = url[len(self._endpoint) + 1 :].split("/resolve/", 1)
        path = urllib.parse.unquote(rest.split("/", 1)[1]) if "/" in rest else ""
        deadline = time.monotonic() + self._wait_s
        while True:
            seeds = self._peers(urllib.parse.unquote(model_id))
            if isinstance(seeds, list):  # a finder of before ADR 0282: whole holders only
                seeds = Seeds(tuple(seeds))
            peers = seeds.holding(path)
            if peers:
                return peers[zlib.crc32(f"{url}#{start}".encode()) % len(peers)]
            if seeds.from_central or time.monotonic() >= deadline:
                return None
            stop = current_stop()
            if stop is not None and stop.is_set():
                return None  # the upstream's request is cut by the same stop at once
            time.sleep(self._poll_s)
