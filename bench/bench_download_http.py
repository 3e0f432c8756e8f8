"""Downloads through DEVON's HTTP API, beside the library, `snapshot_download` and one plain
stream; peak memory at 0.5 GiB and 2 GiB; and `/health` while two large downloads run.

    python bench/bench_download_http.py                   # every leg, one round
    python bench/bench_download_http.py --rounds 3 --skip-responsiveness
    python bench/bench_download_http.py --only-responsiveness

The test hub runs in its own process with `bench/big-512mb` (4 shards), `bench/big-2gb`
(4 shards), `bench/big-2gb-b` (a second one, for two downloads at once) and
`bench/many-small` (1000 files of 4 KiB). Contenders:

- `http`, `http-noverify`: `POST /api/v1/downloads` to `devon serve` (one worker, a fresh
  server and vault per download, `DEVON_VERIFY_CHECKSUMS=1` / `0`); peak RSS is the
  server's (VmHWM from /proc), its RSS once started is given beside it;
- `devon`, `devon-noverify`, `snapshot_download`, `plain-http`: `bench/bench_download.py`'s
  children (one fresh process each; peak RSS from `getrusage`).

Responsiveness: a served instance, two concurrent downloads of the 2 GiB repos, `/health`
probed every 20 ms from another process (`bench/loadgen.py`); the same probe on the idle
server first is the baseline.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_download
from bench.common import (
    MIB,
    devon_server,
    json_request,
    machine,
    markdown_table,
    process_tree_peak_rss_mib,
)

GIB = 1024**3
SMALL, BIG, BIG_B, MANY = "bench/big-512mb", "bench/big-2gb", "bench/big-2gb-b", "bench/many-small"
REPOS = (SMALL, BIG, MANY)
LIBRARY = ("devon", "devon-noverify", "snapshot_download", "plain-http")
SERVED = ("http", "http-noverify")
LOADGEN = Path(__file__).resolve().parent / "loadgen.py"


def serve_hub() -> None:
    """Child mode: the test hub with the benchmark repos, until killed."""
    from devon_testhub import Catalogue, TestHub

    catalogue = (
        Catalogue.default()
        .with_large_repo(SMALL, GIB // 2, 4)
        .with_large_repo(BIG, 2 * GIB, 4)
        .with_large_repo(BIG_B, 2 * GIB, 4)
        .with_many_files_repo(MANY)
    )
    catalogue.warm()
    hub = TestHub(catalogue, host="127.0.0.1", port=0)
    print(f"serving on {hub.url}", flush=True)
    hub.serve_forever()


def running_hub() -> AbstractContextManager[str]:
    return bench_download.running_hub([sys.executable, __file__, "--hub"])


def served_download(endpoint: str, repo: str, scratch: Path, verify: bool) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="http-", dir=scratch))
    env = {"HF_ENDPOINT": endpoint, "DEVON_VERIFY_CHECKSUMS": "1" if verify else "0"}
    try:
        with devon_server(base / "vault", 1, env) as (url, process):
            idle_rss = process_tree_peak_rss_mib(process.pid)
            started = time.perf_counter()
            model = json_request(
                f"{url}/api/v1/downloads", {"model_id": repo, "source": "huggingface"}
            )
            seconds = time.perf_counter() - started
            return {
                "seconds": seconds,
                "bytes": model["size_bytes"],
                "files": len(model["files"]),
                "max_rss_mib": process_tree_peak_rss_mib(process.pid),
                "idle_rss_mib": idle_rss,
            }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def measure(contender: str, endpoint: str, repo: str, scratch: Path) -> dict[str, Any]:
    if contender in SERVED:
        return served_download(endpoint, repo, scratch, verify=contender == "http")
    return bench_download.measure(contender, endpoint, repo, scratch)


def downloads(endpoint: str, args: argparse.Namespace, scratch: Path) -> str:
    rows: list[list[object]] = []
    for repo in args.repos.split(","):
        measured: dict[str, list[dict[str, Any]]] = {}
        for contender in args.contenders.split(","):
            runs = [measure(contender, endpoint, repo, scratch) for _ in range(args.rounds)]
            measured[contender] = runs
            print(repo, contender, json.dumps(runs), flush=True)
        medians = {c: statistics.median(r["seconds"] for r in runs) for c, runs in measured.items()}
        baseline = medians.get("plain-http")
        for contender, runs in measured.items():
            seconds = medians[contender]
            idle = runs[0].get("idle_rss_mib")
            rss = f"{max(r['max_rss_mib'] for r in runs):.0f}"
            rows.append(
                [
                    repo,
                    contender,
                    f"{seconds:.2f}",
                    f"{runs[0]['bytes'] / MIB / seconds:.1f}",
                    runs[0]["files"],
                    rss + (f" (idle {idle:.0f})" if idle else ""),
                    f"{seconds / baseline:.2f}" if baseline else "-",
                ]
            )
    header = ("repo", "contender", "seconds", "MiB/s", "files", "peak RSS MiB", "time vs plain")
    return markdown_table(header, rows)


def probe(url: str, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(LOADGEN), f"{url}/health", "--connections", "1",
         "--interval", "0.02", "--duration", str(seconds), "--max-requests", "100000"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def probe_result(process: subprocess.Popen[str]) -> dict[str, Any]:
    output, _ = process.communicate(timeout=60)
    return dict(json.loads(output.strip().splitlines()[-1]))


def responsiveness(endpoint: str, args: argparse.Namespace, scratch: Path) -> str:
    base = Path(tempfile.mkdtemp(prefix="responsive-", dir=scratch))
    try:
        env = {"HF_ENDPOINT": endpoint, "DEVON_VERIFY_CHECKSUMS": "1"}
        with devon_server(base / "vault", args.probe_workers, env) as (url, _):
            idle = probe_result(probe(url, args.idle_seconds))
            busy_probe = probe(url, args.max_seconds)
            results: list[float] = []

            def fetch(repo: str) -> None:
                started = time.perf_counter()
                json_request(f"{url}/api/v1/downloads", {"model_id": repo}, args.max_seconds)
                results.append(time.perf_counter() - started)

            threads = [threading.Thread(target=fetch, args=(repo,)) for repo in (BIG, BIG_B)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(args.max_seconds)
            busy_probe.terminate()
            busy = probe_result(busy_probe)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("downloads took", results, flush=True)
    rows: list[list[object]] = []
    for label, result in (("idle", idle), ("two 2 GiB downloads running", busy)):
        rows.append(
            [
                label,
                result["requests"],
                result["errors"],
                f"{result['p50_ms']:.1f}",
                f"{result['p99_ms']:.1f}",
                f"{result['max_ms']:.1f}",
                f"{result['p99_ms'] / idle['p99_ms']:.1f}",
            ]
        )
    header = ("server", "probes", "errors", "p50 ms", "p99 ms", "max ms", "p99 vs idle")
    seconds = ", ".join(f"{s:.1f} s" for s in sorted(results))
    note = f"{args.probe_workers} worker(s); the two downloads took {seconds}"
    return note + "\n\n" + markdown_table(header, rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--repos", default=",".join(REPOS))
    parser.add_argument("--contenders", default=",".join(SERVED + LIBRARY))
    parser.add_argument("--scratch", default=None, help="directory for the downloads")
    parser.add_argument("--skip-responsiveness", action="store_true")
    parser.add_argument("--only-responsiveness", action="store_true")
    parser.add_argument("--probe-workers", type=int, default=1, help="server workers (leg 5)")
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="bound on leg 5")
    args = parser.parse_args()
    if args.hub:
        serve_hub()
        return 0
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="devon-bench-dl-"))
    tables = []
    try:
        with running_hub() as endpoint:
            print(f"test hub at {endpoint}", flush=True)
            if not args.only_responsiveness:
                tables.append(downloads(endpoint, args, scratch))
            if not args.skip_responsiveness:
                tables.append(responsiveness(endpoint, args, scratch))
    finally:
        if not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(machine())
    for table in tables:
        print()
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
