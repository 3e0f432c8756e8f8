"""Seeding between fleet hosts (ADR 0242): a host fetching a model from its upstream DEVON
takes the files from the peers that already hold it (other hosts of the fleet, which serve
the same Hub paths), and from the upstream only when no peer has it or a peer fails. What
arrives is verified as any download is (each LFS file's sha256 from the upstream's info), so
a peer can make a download fail but never let a wrong byte in."""

import json
import logging
import threading
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import httpx2

from devon_adapters.huggingface.file_server import HubFileServer

log = logging.getLogger("devon.fleet")

PEERS_TTL_S = 5.0


class PeerFinder:
    """Asks the upstream which online hosts hold a model (`GET /api/v1/peers`), at most
    once every `ttl` seconds per model; no peers when the upstream cannot say."""

    def __init__(self, upstream: str, key: str | None, host: str, ttl: float = PEERS_TTL_S) -> None:
        self.upstream = upstream.rstrip("/")
        self.key = key
        self.host = host
        self.ttl = ttl
        self._known: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, model_id: str) -> list[str]:
        with self._lock:
            cached = self._known.get(model_id)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        query = urllib.parse.urlencode({"model_id": model_id, "host": self.host})
        request = urllib.request.Request(f"{self.upstream}/api/v1/peers?{query}")  # noqa: S310
        if self.key:
            request.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                peers = [str(url).rstrip("/") for url in json.loads(response.read())["peers"]]
        except (OSError, ValueError, KeyError) as error:
            log.info("no peers for %s (%s)", model_id, error)
            peers = []
        with self._lock:
            self._known[model_id] = (time.monotonic(), peers)
        return peers


class SeedingFileServer(HubFileServer):
    """The upstream's files, fetched from a peer that holds them where there is one: each
    file (or each range of a large file) from one of the peers in turn, the upstream when
    the peer does not answer with the bytes."""

    name = "the upstream DEVON"

    def __init__(
        self, inner: HubFileServer, endpoint: str, peers: Callable[[str], list[str]]
    ) -> None:
        self._inner = inner
        self._endpoint = endpoint.rstrip("/")
        self._peers = peers
        super().__init__(inner._client)

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
                        peer + url[len(self._endpoint) :], start, read_timeout, end
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
        if not url.startswith(self._endpoint + "/") or "/resolve/" not in url:
            return None
        model_id = url[len(self._endpoint) + 1 :].split("/resolve/", 1)[0]
        peers = self._peers(urllib.parse.unquote(model_id))
        if not peers:
            return None
        return peers[zlib.crc32(f"{url}#{start}".encode()) % len(peers)]
