"""The read path of issue 14 in one command: every row of its table, before and after, and
the ceiling (the same bodies served as prepared bytes by the same server stack).

    python bench/bench_read_path.py [--before main] [--models 10000] [--big 100000]
                                    [--servers uvicorn,granian] [--workers 1,2]
                                    [--connections 4] [--duration 5] [--skip-downloads]

- `before`: the server of git ref `--before` (exported with `git archive` into a temporary
  directory and put first on PYTHONPATH), on the stack it shipped with: uvicorn without
  uvloop/httptools (they are hidden from it). `after`: this tree, `devon serve` (uvicorn
  with uvloop and httptools), and the same app under granian.
- Load: `bench/loadgen.py` in its own process, one asyncio thread, `--connections` keep-alive
  connections, `--duration` seconds per endpoint, plain bodies (no Accept-Encoding) unless
  the row says gzip.
- Ceiling: `bench/ceiling_app.py` serves each endpoint's body, fetched once from the
  after-server, as fixed bytes through the same stack (Litestar, the request log, the same
  server and worker count).
- At `--big` models: GET /api/v1/models p50 on one connection (unchanged vault, and right
  after each change), and `devon list --json` and `devon status` as whole processes.
- `/health` p99 while 4 connections fetch the full list and two downloads from a test hub
  run (after-server, one worker).

The vault's models carry metadata and ten files each like a real download (about 1 KB of
listing per model), written straight into the index after `rebuild_index()`.
"""

import argparse
import contextlib
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_download
from bench.common import (
    LOOPBACK,
    exported_tree,
    free_port,
    json_request,
    lay_out_models,
    machine,
    markdown_table,
    stop_process,
    wait_for_health,
)

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
LOADGEN = HERE / "loadgen.py"
GIB = 1024**3
DOWNLOADS = ("bench/read-a", "bench/read-b")

# (label, method, path, JSON body, extra header)
ENDPOINTS: tuple[tuple[str, str, str, str | None, str | None], ...] = (
    ("GET /health", "GET", "/health", None, None),
    ("GET /api/v1/status", "GET", "/api/v1/status", None, None),
    ("GET /api/v1/models", "GET", "/api/v1/models", None, None),
    ("GET /api/v1/models gzip", "GET", "/api/v1/models", None, "Accept-Encoding: gzip"),
    ("POST /api/v1/export json", "POST", "/api/v1/export", '{"format": "json"}', None),
    ("POST /api/v1/export kitt", "POST", "/api/v1/export", '{"format": "kitt"}', None),
)
HIDE_FAST_STACK = "import sys; sys.modules['uvloop'] = None; sys.modules['httptools'] = None\n"
"""A sitecustomize for the before-server: uvicorn's `auto` then picks asyncio and h11, the
stack DEVON shipped with."""

METADATA = {
    "architecture": "llama",
    "format": ["safetensors"],
    "include_patterns": None,
    "license": "apache-2.0",
    "parameter_count": 7.62,
    "quantization": None,
    "revision": "8f1e2b3c4d5a6978877665544332211000ffeedd",
}
FILES = [
    ".gitattributes", "README.md", "config.json", "generation_config.json",
    "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
    "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors",
    "model.safetensors.index.json", "tokenizer.json",
]  # fmt: skip


# -- vaults ------------------------------------------------------------------------------


def fill(root: Path, count: int, env: Mapping[str, str]) -> None:
    """`count` models laid out and recorded by `rebuild_index()` (with the code `env`
    selects), then given realistic metadata and file lists in the index."""
    import sqlite3

    lay_out_models(root, 0, count)
    code = (
        "import sys; from devon_adapters import DiskModelStore;"
        "DiskModelStore(sys.argv[1]).rebuild_index()"
    )
    subprocess.run([sys.executable, "-c", code, str(root)], env=dict(env), check=True)
    with sqlite3.connect(root / ".devon" / "index.sqlite3") as db:
        db.execute(
            "UPDATE models SET metadata = ?, files = ?, size_bytes = 15231233024",
            (json.dumps(METADATA, sort_keys=True), json.dumps(FILES)),
        )
    db.close()


def before_tree(ref: str, scratch: Path) -> Path:
    """`ref`'s src/ exported into `scratch`, with the sitecustomize hiding uvloop/httptools."""
    tree = exported_tree(ref, scratch / "before", "src")
    (tree / "src" / "sitecustomize.py").write_text(HIDE_FAST_STACK)
    return tree / "src"


# -- servers -----------------------------------------------------------------------------


def base_env(storage: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DEVON_STORAGE_PATH": str(storage),
        "DEVON_API_KEY": "",
        "XDG_CONFIG_HOME": str(storage.parent / "config"),
        "HF_HOME": str(storage.parent / "hf-home"),
    }


def server_command(stack: str, port: int, workers: int, factory: str) -> list[str]:
    if stack == "granian":
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
                "--host", LOOPBACK, "--port", str(port), "--workers", str(workers),
                "--no-access-log", factory]  # fmt: skip
    if factory == "devon_http.asgi:create_default_app":
        return [sys.executable, "-m", "devon_cli", "serve", "--host", LOOPBACK,
                "--port", str(port), "--workers", str(workers)]  # fmt: skip
    code = (
        "from devon_http.serve import serve_app;"
        f"serve_app({factory!r}, {LOOPBACK!r}, {port}, {workers})"
    )
    return [sys.executable, "-c", code]


@contextmanager
def server(stack: str, workers: int, env: Mapping[str, str], factory: str) -> Iterator[str]:
    with serving(stack, workers, env, factory) as (url, _):
        yield url


@contextmanager
def serving(
    stack: str, workers: int, env: Mapping[str, str], factory: str
) -> Iterator[tuple[str, int]]:
    """A server started as `server` does: its URL and its process id."""
    port = free_port()
    log = open(Path(env["DEVON_STORAGE_PATH"]).parent / f"server-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        server_command(stack, port, workers, factory),
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_for_health(url, process, stack, 120)
        yield url, process.pid
    finally:
        stop_process(process, 20)
        log.close()


def pin(pid: int, cpu: int) -> None:
    """Every thread of process `pid` onto CPU `cpu` (threads it starts later inherit it)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(task.name), {cpu})


def cpu_seconds(pid: int) -> float:
    """CPU time the threads of process `pid` have run (`/proc/<pid>/task/*/schedstat`, in
    nanoseconds, so far finer than the ticks of `/proc/<pid>/stat`)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def load(
    url: str,
    method: str,
    body: str | None,
    header: str | None,
    args: Any,
    cpu: int | None = None,
) -> dict[str, Any]:
    """`loadgen.py`'s figures for one endpoint, after one request outside the measure (the
    first answer after a start or a change is made, not served prepared: measured apart);
    the load generator runs on CPU `cpu` only, when given."""
    fetch(url, method, body)
    options = [
        "--method", method, "--connections", str(args.connections),
        "--duration", str(args.duration), "--max-requests", "200000",
    ]  # fmt: skip
    if cpu is not None:
        options += ["--cpu", str(cpu)]
    if body is not None:
        options += ["--body", body]
    if header is not None:
        options += ["--header", header]
    output = subprocess.run(
        [sys.executable, str(LOADGEN), url, *options],
        capture_output=True,
        text=True,
        check=True,
        timeout=args.duration + 300,
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def body_name(label: str) -> str:
    return label.replace(" ", "_").replace("/", "_")


def fetch(url: str, method: str, body: str | None) -> bytes:
    request = urllib.request.Request(  # noqa: S310
        url,
        data=body.encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json"} if body is not None else {},
    )
    with urllib.request.urlopen(request, timeout=600) as answer:  # noqa: S310
        data: bytes = answer.read()
        return data


FAILED = {"rps": float("nan"), "p50_ms": float("nan"), "p99_ms": float("nan")}


def endpoint_rows(url: str, args: Any, paths: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Each endpoint's load figures (`paths` maps labels to other paths, for the ceiling);
    a leg that fails is reported as NaN rather than ending the run."""
    results = {}
    for label, method, path, body, header in ENDPOINTS:
        target = url + (paths[label] if paths else path)
        try:
            results[label] = load(target, method, body, header, args)
        except (OSError, subprocess.SubprocessError, ValueError) as error:
            print(f"  {label}: failed ({error})", flush=True)
            results[label] = FAILED
            continue
        print(f"  {label}: {results[label]['rps']:.1f} req/s", flush=True)
    return results


# -- the 100,000-model figures -----------------------------------------------------------


def big_vault_figures(storage: Path, env: Mapping[str, str], rounds: int) -> dict[str, float]:
    """p50 of GET /api/v1/models on one connection (unchanged, and after each change), and
    the CLI's list --json and status as whole processes (medians)."""
    import http.client

    from devon_adapters import DiskModelStore

    figures: dict[str, float] = {}
    with server("uvicorn", 1, env, "devon_http.asgi:create_default_app") as url:
        port = int(url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=600)

        def timed_get() -> float:
            started = time.perf_counter()
            connection.request("GET", "/api/v1/models")
            connection.getresponse().read()
            return time.perf_counter() - started

        timed_get()
        figures["GET /api/v1/models p50, unchanged vault"] = statistics.median(
            timed_get() for _ in range(rounds)
        )
        store = DiskModelStore(storage)
        changed = []
        for i in range(rounds):
            store.mark_used("huggingface", f"org{i % 100}/model-{i}", datetime_now())
            changed.append(timed_get())
        store.close()
        figures["GET /api/v1/models p50, right after a change"] = statistics.median(changed)
        connection.close()
    for label, command in (
        ("devon list --json (whole process)", ["list", "--json"]),
        ("devon status (whole process)", ["status"]),
    ):
        runs = []
        for _ in range(rounds):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "devon_cli", *command],
                env=dict(env),
                stdout=subprocess.DEVNULL,
                check=True,
            )
            runs.append(time.perf_counter() - started)
        figures[label] = statistics.median(runs)
    return figures


def datetime_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


# -- /health while the list is fetched and downloads run ---------------------------------


def serve_hub() -> None:
    """Child mode: the test hub with two 1 GiB repos, until killed."""
    from devon_testhub import Catalogue, TestHub

    catalogue = Catalogue.default()
    for repo in DOWNLOADS:
        catalogue = catalogue.with_large_repo(repo, GIB, 4)
    catalogue.warm()
    hub = TestHub(catalogue, host=LOOPBACK, port=0)
    print(f"serving on {hub.url}", flush=True)
    hub.serve_forever()


def health_under_load(storage: Path, env: Mapping[str, str], duration: float) -> dict[str, Any]:
    with bench_download.running_hub([sys.executable, __file__, "--hub"]) as hub:
        hub_env = {**env, "HF_ENDPOINT": hub, "DEVON_VERIFY_CHECKSUMS": "1"}
        with server("uvicorn", 1, hub_env, "devon_http.asgi:create_default_app") as url:
            flood = subprocess.Popen(
                [sys.executable, str(LOADGEN), f"{url}/api/v1/models", "--connections", "4",
                 "--duration", str(duration * 4), "--max-requests", "1000000"],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            probe = subprocess.Popen(
                [sys.executable, str(LOADGEN), f"{url}/health", "--connections", "1",
                 "--interval", "0.02", "--duration", str(duration * 4),
                 "--max-requests", "1000000"],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            took: list[float] = []

            def download(repo: str) -> None:
                started = time.perf_counter()
                json_request(f"{url}/api/v1/downloads", {"model_id": repo}, 600)
                took.append(time.perf_counter() - started)

            threads = [threading.Thread(target=download, args=(r,)) for r in DOWNLOADS]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(600)
            probe.terminate()
            flood.terminate()
            probed = json.loads(probe.communicate(timeout=60)[0].strip().splitlines()[-1])
            listed = json.loads(flood.communicate(timeout=600)[0].strip().splitlines()[-1])
    return {"probe": probed, "listing": listed, "downloads_s": took}


# -- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--before", default="main", help="git ref of the 'before' server; '' = none"
    )
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000, help="0 skips the large vault")
    parser.add_argument("--servers", default="uvicorn,granian")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=5, help="for the large-vault medians")
    parser.add_argument("--skip-downloads", action="store_true")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--only-request-log", action="store_true", help="only the request log's cost leg"
    )
    parser.add_argument(
        "--only-health", action="store_true", help="only the /health-under-load leg"
    )
    args = parser.parse_args()
    if args.hub:
        serve_hub()
        return
    if args.only_request_log:
        scratch = Path(tempfile.mkdtemp(prefix="devon-bench-read-", dir=args.dir))
        try:
            (scratch / "bodies").mkdir()
            (scratch / "bodies" / "GET__health").write_bytes(b'{"status":"ok"}')
            print(machine(), flush=True)
            env = base_env(scratch / "vault")
            costs = request_log_cost(scratch / "bodies", env, args)
            health_cpu = health_cpu_per_request(env, args)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        report({}, costs, None, {}, args)
        print_log_share(health_cpu)
        return
    if args.only_health:
        scratch = Path(tempfile.mkdtemp(prefix="devon-bench-read-", dir=args.dir))
        try:
            print(machine(), flush=True)
            env = base_env(scratch / "vault")
            fill(scratch / "vault", args.models, env)
            under_load = health_under_load(scratch / "vault", env, args.duration)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        report({}, [], under_load, {}, args)
        return
    scratch = Path(tempfile.mkdtemp(prefix="devon-bench-read-", dir=args.dir))
    storage = scratch / "vault"
    after_env = base_env(storage)
    results: dict[tuple[str, str, int], dict[str, dict[str, Any]]] = {}
    workers = [int(w) for w in args.workers.split(",")]
    print(machine(), flush=True)
    try:
        if args.before:
            before_src = before_tree(args.before, scratch)
            before_env = {**after_env, "PYTHONPATH": str(before_src)}
            fill(storage, args.models, before_env)
            for count in workers:
                print(f"before, uvicorn, {count} worker(s)", flush=True)
                factory = "devon_http.asgi:create_default_app"
                with server("uvicorn", count, before_env, factory) as url:
                    results[("before", "uvicorn", count)] = endpoint_rows(url, args)
        else:
            fill(storage, args.models, after_env)
        bodies = scratch / "bodies"
        bodies.mkdir()
        for stack in args.servers.split(","):
            for count in workers:
                print(f"after, {stack}, {count} worker(s)", flush=True)
                factory = "devon_http.asgi:create_default_app"
                with server(stack, count, after_env, factory) as url:
                    results[("after", stack, count)] = endpoint_rows(url, args)
                    for label, method, path, body, _ in ENDPOINTS:
                        plain = fetch(url + path, method, body)
                        (bodies / body_name(label)).write_bytes(plain)
                        if "gzip" in label:
                            (bodies / f"{body_name(label)}.gz").write_bytes(gzip.compress(plain))
                print(f"ceiling, {stack}, {count} worker(s)", flush=True)
                ceiling_env = {
                    **after_env,
                    "DEVON_BENCH_BODIES": str(bodies),
                    "PYTHONPATH": str(REPO_ROOT),
                }
                paths = {label: "/" + body_name(label) for label, *_ in ENDPOINTS}
                with server(stack, count, ceiling_env, "bench.ceiling_app:create") as url:
                    results[("ceiling", stack, count)] = endpoint_rows(url, args, paths)
        log_cost = request_log_cost(bodies, after_env, args)
        health_cpu = health_cpu_per_request(after_env, args)
        health = None
        if not args.skip_downloads:
            try:
                health = health_under_load(storage, after_env, args.duration)
            except (OSError, subprocess.SubprocessError, RuntimeError, ValueError) as error:
                print(f"/health under load failed: {error}", flush=True)
        big: dict[str, float] = {}
        if args.big:
            shutil.rmtree(storage)
            fill(storage, args.big, after_env)
            big = big_vault_figures(storage, after_env, args.rounds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(results, log_cost, health, big, args)
    print_log_share(health_cpu)


def loaded_cpu(
    url: str, pid: int, args: Any, cpu: int | None = None
) -> tuple[dict[str, Any], float]:
    """`load`'s figures for a GET of `url`, and the CPU seconds they cost the server
    (process `pid`)."""
    before = cpu_seconds(pid)
    figures = load(url, "GET", None, None, args, cpu=cpu)
    return figures, cpu_seconds(pid) - before


def health_cpu_per_request(env: Mapping[str, str], args: Any) -> float:
    """The server's CPU time per `GET /health` of DEVON's own app (uvicorn, 1 worker, the
    request log on), in µs: the median of `--rounds` loads of `--duration` seconds."""
    costs = []
    for _ in range(args.rounds):
        with serving("uvicorn", 1, env, "devon_http.asgi:create_default_app") as (url, pid):
            figures, used = loaded_cpu(url + "/health", pid, args)
            costs.append(used / max(figures["requests"], 1) * 1e6)
    print(f"  DEVON /health: {', '.join(f'{c:.1f}' for c in costs)} us of server CPU per request")
    return float(statistics.median(costs))


def print_log_share(health_cpu: float) -> None:
    """The request log's in-process cost, and its share of what a `/health` costs DEVON's
    server (the precise figure: both are CPU time, neither a rate on shared cores)."""
    with_log, without = request_log_microcost()
    print(f"request log in-process: {with_log:.1f} us/request with, {without:.1f} without")
    print(
        f"DEVON /health: {health_cpu:.1f} us of server CPU per request (median); the request "
        f"log's {with_log - without:.1f} us are {(with_log - without) / health_cpu * 100:.1f}% "
        "of it"
    )


LogRound = tuple[float, float, float, float]
"""req/s with the request log, without it; server CPU µs per request with, without."""


LOG_SLICES = 3
"""Loads per server per round in the request log's leg: short, alternating between the
two servers, so that both meet the same disturbances from the rest of the machine."""


def request_log_cost(bodies: Path, env: Mapping[str, str], args: Any) -> list[LogRound]:
    """`/health` of the ceiling app (uvicorn, 1 worker) with and without the request log:
    both servers run at once and are loaded in turn, `LOG_SLICES` times per round for a
    fifth of `--duration` each, `--rounds` rounds. Each round's figures: the rate, and the
    server's CPU time per request (which the load generator and the machine's neighbours
    disturb far less), each summed over the round's slices."""
    args = argparse.Namespace(**{**vars(args), "duration": args.duration / 5})

    def ceiling(no_log: str) -> AbstractContextManager[tuple[str, int]]:
        ceiling_env = {
            **env,
            "DEVON_BENCH_BODIES": str(bodies),
            "PYTHONPATH": str(REPO_ROOT),
            "DEVON_BENCH_NO_LOG": no_log,
        }
        return serving("uvicorn", 1, ceiling_env, "bench.ceiling_app:create")

    rounds = []
    with ceiling("") as logged, ceiling("1") as bare:
        # Each server on one CPU, the load on the other: where the scheduler happened to
        # put them changed a server's CPU per request by a third between two loads.
        pin(logged[1], 0)
        pin(bare[1], 0)
        for number in range(args.rounds):
            requests = {"": 0, "1": 0}
            seconds = {"": 0.0, "1": 0.0}
            cpu = {"": 0.0, "1": 0.0}
            for slice_number in range(LOG_SLICES):
                first = (number + slice_number) % 2 == 0
                for no_log in ("", "1") if first else ("1", ""):
                    url, pid = logged if no_log == "" else bare
                    figures, used = loaded_cpu(url + "/GET__health", pid, args, cpu=1)
                    cpu[no_log] += used
                    requests[no_log] += figures["requests"]
                    seconds[no_log] += figures["seconds"]
            rate = {k: requests[k] / max(seconds[k], 1e-9) for k in requests}
            cost = {k: cpu[k] / max(requests[k], 1) * 1e6 for k in requests}
            rounds.append((rate[""], rate["1"], cost[""], cost["1"]))
            print(
                f"  request log: {rate['']:.0f} req/s with, {rate['1']:.0f} without; "
                f"server CPU {cost['']:.1f} us/request with, {cost['1']:.1f} without",
                flush=True,
            )
    return rounds


def request_log_microcost(repeats: int = 7, requests: int = 2000) -> tuple[float, float]:
    """Microseconds per request of a trivial ASGI app behind the request guard, with and
    without the request log (DEVON's own handler writing to /dev/null), `requests` at a time
    on one event loop; the fastest of `repeats` (the figure least disturbed by other jobs).
    Run last: it leaves this process's `devon` logger writing to /dev/null."""
    import asyncio

    from devon_http.guard import HttpSecurity, RequestGuard
    from devon_http.request_log import RequestLog, configure_logging

    stderr = sys.stderr
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the handler keeps it
    try:
        configure_logging()
    finally:
        sys.stderr = stderr

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> Any:
        return {"type": "http.request"}

    async def send(message: Any) -> None:
        return None

    scope: Any = {"type": "http", "method": "GET", "path": "/health", "headers": []}

    async def per_request(wrapped: RequestGuard) -> float:
        started = time.perf_counter()
        await asyncio.gather(*(wrapped(scope, receive, send) for _ in range(requests)))
        if wrapped.log is not None:
            wrapped.log.flush()  # the lines are made and written here: counted
        return (time.perf_counter() - started) / requests * 1e6

    async def fastest() -> tuple[float, float]:
        logged = RequestGuard(app, HttpSecurity(), RequestLog())
        bare = RequestGuard(app, HttpSecurity())
        with_log = min([await per_request(logged) for _ in range(repeats)])
        without = min([await per_request(bare) for _ in range(repeats)])
        return with_log, without

    return asyncio.run(fastest())


def report(
    results: dict[tuple[str, str, int], dict[str, dict[str, Any]]],
    log_cost: list[LogRound],
    health: dict[str, Any] | None,
    big: dict[str, float],
    args: Any,
) -> None:
    print()
    print(f"{args.models:,} models, {args.connections} connections, {args.duration} s each")
    print(machine())
    print()
    stacks = [key for key in results if key[0] == "after"]
    for _, stack, count in stacks:
        before = results.get(("before", "uvicorn", count))
        after = results[("after", stack, count)]
        ceiling = results[("ceiling", stack, count)]
        print(f"### {stack}, {count} worker(s)")
        print()
        header = (
            "endpoint", "before req/s", "after req/s", "after / before", "after p50 ms",
            "after p99 ms", "ceiling req/s", "after / ceiling",
        )  # fmt: skip
        rows = []
        for label, *_ in ENDPOINTS:
            a, c = after[label], ceiling[label]
            b = before[label]["rps"] if before and label in before else None
            rows.append(
                (
                    label,
                    f"{b:.1f}" if b else "-",
                    f"{a['rps']:.1f}",
                    f"{a['rps'] / b:.1f}x" if b else "-",
                    f"{a['p50_ms']:.1f}",
                    f"{a['p99_ms']:.1f}",
                    f"{c['rps']:.1f}",
                    f"{a['rps'] / c['rps']:.2f}",
                )
            )
        print(markdown_table(header, rows))
        print()
    if log_cost:
        print("The request log at `/health` (ceiling app, uvicorn, 1 worker): both servers")
        print(f"loaded in turn, {LOG_SLICES} short loads each per round:")
        print()
        cost_rows = [
            (
                f"{w:.0f}", f"{wo:.0f}", f"{(1 - w / wo) * 100:.1f}%",
                f"{c:.1f}", f"{co:.1f}", f"{(c / co - 1) * 100:.1f}%",
            )
            for w, wo, c, co in log_cost
        ]  # fmt: skip
        # Each round's own pair, then the median of the rounds.
        paired_rate = statistics.median(1 - w / wo for w, wo, _, _ in log_cost)
        paired_cpu = statistics.median(c / co - 1 for _, _, c, co in log_cost)
        cost_rows.append(
            (
                f"median {statistics.median(r[0] for r in log_cost):.0f}",
                f"{statistics.median(r[1] for r in log_cost):.0f}",
                f"{paired_rate * 100:.1f}%",
                f"{statistics.median(r[2] for r in log_cost):.1f}",
                f"{statistics.median(r[3] for r in log_cost):.1f}",
                f"{paired_cpu * 100:.1f}%",
            )
        )
        log_header = (
            "req/s with log", "req/s without", "rate cost",
            "server CPU µs/req with", "without", "CPU cost",
        )  # fmt: skip
        print(markdown_table(log_header, cost_rows))
        print()
    if health:
        probe, listing = health["probe"], health["listing"]
        print("/health every 20 ms while 4 connections fetch the list and two 1 GiB downloads run")
        print("(1 worker):")
        print()
        print(
            markdown_table(
                (
                    "probes",
                    "errors",
                    "p50 ms",
                    "p99 ms",
                    "max ms",
                    "lists/s meanwhile",
                    "downloads s",
                ),
                [
                    (
                        probe["requests"],
                        probe["errors"],
                        f"{probe['p50_ms']:.1f}",
                        f"{probe['p99_ms']:.1f}",
                        f"{probe['max_ms']:.1f}",
                        f"{listing['rps']:.1f}",
                        ", ".join(f"{s:.1f}" for s in sorted(health["downloads_s"])),
                    )
                ],
            )
        )
        print()
    if big:
        print(f"{args.big:,} models (medians of {args.rounds}):")
        print()
        print(markdown_table(("figure", "seconds"), [(k, f"{v:.3f}") for k, v in big.items()]))
    print()
    print(machine())


if __name__ == "__main__":
    main()
