"""HTTP API throughput and latency over a vault of 10,000 models, one server worker and more.

    python bench/bench_http_load.py [--models 10000] [--workers 1,2] [--connections 8]
                               [--duration 5] [--max-requests 20000] [--dir DIR]

Fills a temporary vault (laid out, then `rebuild_index()`), serves it with `devon serve
--workers N` on 127.0.0.1, and drives each endpoint from a second process
(`bench/loadgen.py`: keep-alive connections on raw asyncio streams, bounded in count and
time). The same run times the library call behind each endpoint in this process, so the
table shows what HTTP adds: `p50 / library` is the median request over the bare call.
Last, per worker count, `/health` is probed every 20 ms, idle and while 4 connections keep
asking for the full list. On a 2-core machine the load generator competes with the server
for the cores.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import devon_server, fill_vault, machine, markdown_table, timed

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"

# (label, method, path, JSON body)
ENDPOINTS: tuple[tuple[str, str, str, str | None], ...] = (
    ("GET /health", "GET", "/health", None),
    ("GET /api/v1/status", "GET", "/api/v1/status", None),
    ("GET /api/v1/models", "GET", "/api/v1/models", None),
    ("POST /api/v1/export kitt", "POST", "/api/v1/export", '{"format": "kitt"}'),
    ("POST /api/v1/export json", "POST", "/api/v1/export", '{"format": "json"}'),
)


def library_seconds(storage: Path, repeats: int = 5) -> dict[str, float]:
    """The median time of the `Devon` call behind each endpoint, with the same serialisation
    to plain data the API does (no HTTP)."""
    from devon_adapters import DiskModelStore
    from devon_adapters.clock import SystemClock
    from devon_core import Devon
    from devon_core.serialization import unstructure

    store = DiskModelStore(storage)
    devon = Devon(store=store, clock=SystemClock(), default_source="huggingface")
    calls: dict[str, Callable[[], Any]] = {
        "GET /health": lambda: None,
        "GET /api/v1/status": lambda: json.dumps(unstructure(devon.status())),
        "GET /api/v1/models": lambda: json.dumps(unstructure(devon.list())),
        "POST /api/v1/export kitt": lambda: json.dumps(unstructure(devon.export("kitt"))),
        "POST /api/v1/export json": lambda: json.dumps(unstructure(devon.export("json"))),
    }
    result = {}
    for label, call in calls.items():
        runs = sorted(timed(call)[0] for _ in range(repeats))
        result[label] = runs[len(runs) // 2]
    store.close()
    return result


def start_loadgen(url: str, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(LOADGEN), url, *options], stdout=subprocess.PIPE, text=True
    )


def result_of(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    output, _ = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"the load generator failed ({process.returncode})")
    return dict(json.loads(output.strip().splitlines()[-1]))


def load(url: str, method: str, body: str | None, args: argparse.Namespace) -> dict[str, Any]:
    options = [
        "--method", method, "--connections", str(args.connections),
        "--duration", str(args.duration), "--max-requests", str(args.max_requests),
    ]  # fmt: skip
    if body is not None:
        options += ["--body", body]
    return result_of(start_loadgen(url, *options), args.duration + 120)


def health_while_listing(base_url: str, args: argparse.Namespace) -> list[object]:
    """`/health` probed every 20 ms, idle and then while 4 connections keep asking for the
    full model list: does a heavy request hold up the light ones?"""
    probe = ["--connections", "1", "--interval", "0.02", "--duration", str(args.duration)]
    idle = result_of(start_loadgen(f"{base_url}/health", *probe), args.duration + 60)
    flood = start_loadgen(
        f"{base_url}/api/v1/models", "--connections", "4", "--duration", str(args.duration)
    )
    busy = result_of(start_loadgen(f"{base_url}/health", *probe), args.duration + 60)
    listed = result_of(flood, args.duration + 120)
    return [
        f"{idle['p50_ms']:.1f}",
        f"{idle['p99_ms']:.1f}",
        f"{busy['p50_ms']:.1f}",
        f"{busy['p99_ms']:.1f}",
        f"{busy['max_ms']:.1f}",
        f"{busy['p99_ms'] / idle['p99_ms']:.1f}",
        f"{listed['rps']:.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2", help="server worker counts to try")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per endpoint")
    parser.add_argument("--max-requests", type=int, default=20_000, help="per endpoint")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary vault goes")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="devon-bench-http-", dir=args.dir))
    storage = base / "vault"
    rows = []
    mixed: list[list[object]] = []
    try:
        fill_vault(storage, args.models)
        library = library_seconds(storage)
        print(machine(), flush=True)
        health_rps: dict[int, float] = {}
        single_rps: dict[str, float] = {}
        for workers in (int(w) for w in args.workers.split(",")):
            with devon_server(storage, workers) as (url, _):
                for label, method, path, body in ENDPOINTS:
                    result = load(url + path, method, body, args)
                    if label == "GET /health":
                        health_rps[workers] = result["rps"]
                    single_rps.setdefault(label, result["rps"])
                    base_ms = library[label] * 1000
                    rows.append(
                        (
                            label,
                            workers,
                            result["requests"],
                            result["errors"],
                            f"{result['rps']:.1f}",
                            f"{result['p50_ms']:.1f}",
                            f"{result['p99_ms']:.1f}",
                            f"{base_ms:.2f}",
                            f"{result['p50_ms'] / base_ms:.1f}" if base_ms >= 0.01 else "-",
                            f"{result['rps'] / health_rps[workers]:.3f}",
                            f"{result['rps'] / single_rps[label]:.2f}",
                        )
                    )
                    print(label, workers, json.dumps(result), flush=True)
                mixed.append([workers, *health_while_listing(url, args)])
                print("health while listing", mixed[-1], flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print()
    print(f"{args.models:,} models, {args.connections} connections, {args.duration} s each")
    print(machine())
    print()
    header = (
        "endpoint", "workers", "requests", "errors", "req/s", "p50 ms", "p99 ms",
        "library ms", "p50 / library", "req/s vs /health", "req/s vs first workers",
    )  # fmt: skip
    print(markdown_table(header, rows))
    print()
    mixed_header = (
        "workers", "idle p50 ms", "idle p99 ms", "listing p50 ms", "listing p99 ms",
        "listing max ms", "p99 vs idle", "lists/s meanwhile",
    )  # fmt: skip
    print("`/health` every 20 ms, idle and while 4 connections ask for `GET /api/v1/models`:")
    print()
    print(markdown_table(mixed_header, mixed))


if __name__ == "__main__":
    main()
