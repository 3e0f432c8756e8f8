"""What the request log costs a `/health`, counted in CPU instructions (valgrind's callgrind).

    python bench/bench_request_log_cost.py [--requests 3000] [--before GIT_REF]

Timings cannot settle a 5% question on two shared cores: the server's CPU time per request
moved by a third between two runs of the same code. Instruction counts are the same from
one run to the next, so this measures:

- the request log's instructions per request: the benchmark ceiling app (Litestar, one
  route, the request guard) called in-process `--requests` times with and without the
  guard's `RequestLog`, the
  clock advancing 0.1 ms per request as at 10,000 requests a second, the batch written every
  500 requests; the difference of the two counts, per request;
- the instructions a `GET /health` costs DEVON's own server (uvicorn, 1 worker, the request
  log on), counted only while `--requests` requests are made one after another.

With `--before`, the log's count is also taken for that git ref, by its own `src/` and
`bench/` (how the log is put around the app changed with the code). Needs valgrind
(`callgrind_control` included); takes a few minutes.
"""

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    LOOPBACK,
    exported_tree,
    free_port,
    markdown_table,
    stop_process,
    wait_for_health,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
BATCH = 500
HEALTH_BODY = b'{"status":"ok"}'


def child(variant: str, count: int) -> None:
    """Child mode (run under callgrind): `count` in-process requests of the ceiling app."""
    from bench import ceiling_app

    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the log's stream, for the process
    if variant == "bare":
        os.environ["DEVON_BENCH_NO_LOG"] = "1"
    app = ceiling_app.create()
    log = app.log
    start = time.time()
    time.time = iter([start + i / 10_000 for i in range(count + 10)]).__next__
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "server": (LOOPBACK, 8000), "client": (LOOPBACK, 5000),
        "scheme": "http", "method": "GET", "root_path": "", "path": "/GET__health",
        "raw_path": b"/GET__health", "query_string": b"", "state": {},
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")],
    }  # fmt: skip

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def run() -> None:
        started = asyncio.Event()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        await queue.put({"type": "lifespan.startup"})

        async def lifespan_send(message: Any) -> None:
            if message["type"] == "lifespan.startup.complete":
                started.set()

        lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        running = asyncio.create_task(app(lifespan, queue.get, lifespan_send))  # type: ignore[arg-type]
        await started.wait()
        for number in range(count):
            await app(dict(scope), receive, send)  # type: ignore[arg-type]
            if log is not None and number % BATCH == BATCH - 1:
                log.flush()
        if log is not None:
            log.flush()
        running.cancel()

    asyncio.run(run())


def instructions(command: list[str], env: Mapping[str, str], scratch: Path) -> int:
    """Instructions `command` executes, whole, under callgrind."""
    out = scratch / f"callgrind.{time.monotonic_ns()}"
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
        env=dict(env),
        check=True,
        capture_output=True,
    )
    return _totals(out)


def _totals(out: Path) -> int:
    for line in out.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def log_instructions(
    env: Mapping[str, str], count: int, scratch: Path, root: Path = REPO_ROOT
) -> tuple[float, float]:
    """(the log's instructions per request, the ceiling app's own per request), counted by
    the tree at `root`."""
    me = [sys.executable, str(root / "bench" / "bench_request_log_cost.py"), "--child"]
    empty = instructions([*me, "bare", "0"], env, scratch)
    bare = instructions([*me, "bare", str(count)], env, scratch)
    logged = instructions([*me, "logged", str(count)], env, scratch)
    return (logged - bare) / count, (bare - empty) / count


def health_instructions(env: Mapping[str, str], count: int, scratch: Path) -> float:
    """Instructions per `GET /health` of DEVON's server, counted while `count` are made."""
    import http.client

    port = free_port()
    out = scratch / "server.callgrind"
    code = (
        "from devon_http.serve import serve_app;"
        f"serve_app('devon_http.asgi:create_default_app', {LOOPBACK!r}, {port}, 1)"
    )
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no",
         f"--callgrind-out-file={out}", sys.executable, "-c", code],
        env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_health(f"http://{LOOPBACK}:{port}", server, "the server under valgrind", 300)
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=120)

        def requests(how_many: int) -> None:
            for _ in range(how_many):
                connection.request("GET", "/health")
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"/health answered {response.status}")

        requests(300)
        subprocess.run(["callgrind_control", "-i", "on", str(server.pid)], check=True,
                       capture_output=True)  # fmt: skip
        requests(count)
        for command in (["-i", "off"], ["-d"]):
            subprocess.run(["callgrind_control", *command, str(server.pid)], check=True,
                           capture_output=True)  # fmt: skip
        connection.close()
    finally:
        stop_process(server, 120)
    dumps = sorted(scratch.glob("server.callgrind.*"))
    return _totals(dumps[-1]) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--before", default="", help="git ref whose request log to count too")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind (with callgrind_control) is needed: apt-get install valgrind")
    scratch = Path(tempfile.mkdtemp(prefix="devon-bench-log-"))
    bodies = scratch / "bodies"
    bodies.mkdir()
    (bodies / "GET__health").write_bytes(HEALTH_BODY)
    env = {
        **os.environ,
        "DEVON_BENCH_BODIES": str(bodies),
        "DEVON_STORAGE_PATH": str(scratch / "vault"),
        "DEVON_API_KEY": "",
        "XDG_CONFIG_HOME": str(scratch / "config"),
        "HF_HOME": str(scratch / "hf-home"),
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONHASHSEED": "0",  # the same dict and set layouts, so the same counts, each run
    }
    try:
        rows = []
        health = health_instructions(env, args.requests, scratch)
        log, app = log_instructions(env, args.requests, scratch)
        rows.append(("this tree", f"{log:,.0f}", f"{app:,.0f}", f"{health:,.0f}",
                     f"{log / health * 100:.1f}%"))  # fmt: skip
        if args.before:
            before = exported_tree(args.before, scratch / "before", "src", "bench")
            before_env = {**env, "PYTHONPATH": f"{before / 'src'}:{before}"}
            log_before, app_before = log_instructions(before_env, args.requests, scratch, before)
            rows.append((args.before, f"{log_before:,.0f}", f"{app_before:,.0f}", "-",
                         f"{log_before / health * 100:.1f}% (of this tree's /health)"))  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{args.requests} requests each, instructions per request (callgrind):")
    print()
    header = ("code", "request log", "ceiling app's /health, in-process",
              "DEVON's /health, whole server", "log / DEVON's /health")  # fmt: skip
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
