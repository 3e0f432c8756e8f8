"""A small HTTP/1.1 load generator: N keep-alive connections on raw asyncio streams, each
sending one request after another, bounded in count and in time. Loopback only.

    python bench/loadgen.py URL [--method GET] [--body JSON] [--connections 8]
                            [--duration 5] [--max-requests 20000] [--interval 0]
                            [--header 'Accept-Encoding: gzip' ...] [--cpu N]

Prints one JSON line: requests, errors, seconds, rps, p50/p90/p99/max latency in milliseconds.
With `--interval` each connection waits that long between requests (a probe, not a flood).
SIGTERM ends the run early (the figures so far are still printed).
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import LOOPBACK, percentile

REQUEST_TIMEOUT = 60.0
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "max": 1.0}


class Budget:
    def __init__(self, requests: int, deadline: float) -> None:
        self.left = requests
        self.deadline = deadline

    def stop(self) -> None:
        self.left = 0

    def take(self) -> bool:
        if self.left <= 0 or time.perf_counter() >= self.deadline:
            return False
        self.left -= 1
        return True


async def read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    """(status, body bytes) of one response; handles Content-Length and chunked bodies."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length: int | None = None
    chunked = False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        total = 0
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)
            total += size
        await reader.readline()
        return status, total
    await reader.readexactly(length or 0)
    return status, length or 0


async def connection(
    host: str, port: int, payload: bytes, budget: Budget, interval: float, out: dict[str, Any]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while budget.take():
            started = time.perf_counter()
            writer.write(payload)
            await writer.drain()
            try:
                status, _ = await asyncio.wait_for(read_response(reader), REQUEST_TIMEOUT)
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                out["errors"] += 1
                return
            out["latencies"].append(time.perf_counter() - started)
            if status >= 400:
                out["errors"] += 1
            if interval:
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
    finally:
        writer.close()


def request_bytes(
    method: str, host: str, port: int, path: str, body: str | None, headers: Sequence[str] = ()
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: */*", *headers]
    data = (body or "").encode()
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def run(
    url: str,
    method: str,
    body: str | None,
    connections: int,
    duration: float,
    max_requests: int,
    interval: float,
    headers: Sequence[str] = (),
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or LOOPBACK, parts.port or 80
    if host != LOOPBACK:
        raise SystemExit(f"loopback only: {url}")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    payload = request_bytes(method, host, port, path, body, headers)
    started = time.perf_counter()
    budget = Budget(max_requests, started + duration)
    out: dict[str, Any] = {"errors": 0, "latencies": []}
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, budget.stop)
    await asyncio.gather(
        *(connection(host, port, payload, budget, interval, out) for _ in range(connections))
    )
    seconds = time.perf_counter() - started
    latencies: list[float] = out["latencies"]
    return {
        "requests": len(latencies),
        "errors": out["errors"],
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        **{f"{name}_ms": percentile(latencies, q) * 1000 for name, q in QUANTILES.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default=None, help="JSON body (sent as application/json)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds, at most")
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between requests")
    parser.add_argument("--header", action="append", default=[], help="'Name: value' to send")
    parser.add_argument("--cpu", type=int, default=None, help="run on this CPU only")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    result = asyncio.run(
        run(
            args.url,
            args.method,
            args.body,
            args.connections,
            args.duration,
            args.max_requests,
            args.interval,
            args.header,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
