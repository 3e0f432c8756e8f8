"""One large file through a served DEVON: concurrent ranges against a hub that limits each
connection, and unthrottled on loopback; baselines from the same run (ADR 0120).

    .venv/bin/python bench/bench_bigfile.py                       # both cases, 3 rounds
    .venv/bin/python bench/bench_bigfile.py --rounds 1 --rate 40mbit --throttled-mb 64
    .venv/bin/python bench/bench_bigfile.py --skip-throttled --size-mb 512 --memory-mb 2048

Two test hub processes serve single-file repos (`bench/one-<N>mb`: one safetensors file of N
MiB plus a few small files): one limits every connection to `--rate` bytes per second
(`python -m devon_testhub --connection-rate`), the other sends as fast as it can. Contenders,
each into a fresh directory on the same disk, deleted after:

- `devon`: `POST /api/v1/downloads` to `devon serve` (one worker, fresh vault and server per
  download, checksums verified, default connection settings: 8 per file);
- `devon-1-connection`: the same with `DEVON_DOWNLOAD_CONNECTIONS=1` (one stream per file,
  as before ranges);
- `curl`: `curl -s -o FILE URL` of the large file alone (no verification);
- `snapshot_download`: `huggingface_hub.snapshot_download(local_dir=...)` in a fresh process.

Memory: the served DEVON's peak RSS (VmHWM) at `--size-mb` and at `--memory-mb`.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_download
from bench.common import MIB, devon_server, json_request, machine, markdown_table
from bench.common import process_tree_peak_rss_mib as peak_rss

CONTENDERS = ("devon", "devon-1-connection", "curl", "snapshot_download")
BIG_FILE = "model-00001-of-00001.safetensors"


def repo_for(size_mb: int) -> str:
    return f"bench/one-{size_mb}mb"


def serve_hub(sizes_mb: list[int], rate: str) -> None:
    """Child mode: a test hub with one single-file repo per size, until killed."""
    from devon_testhub import Catalogue, TestHub
    from devon_testhub.__main__ import _rate

    catalogue = Catalogue.default()
    for size in sizes_mb:
        catalogue = catalogue.with_large_repo(repo_for(size), size * MIB, 1)
    catalogue.warm()
    hub = TestHub(catalogue, host="127.0.0.1", port=0, connection_rate=_rate(rate))
    print(f"serving on {hub.url}", flush=True)
    hub.serve_forever()


@contextmanager
def hub(sizes_mb: list[int], rate: str) -> Iterator[str]:
    command = [sys.executable, __file__, "--hub", ",".join(map(str, sizes_mb)), rate]
    with bench_download.running_hub(command) as url:
        yield url


def served(endpoint: str, repo: str, scratch: Path, connections: int | None) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="served-", dir=scratch))
    env = {"HF_ENDPOINT": endpoint, "DEVON_VERIFY_CHECKSUMS": "1"}
    if connections is not None:
        env["DEVON_DOWNLOAD_CONNECTIONS"] = str(connections)
    try:
        with devon_server(base / "vault", 1, env) as (url, process):
            idle = peak_rss(process.pid)
            started = time.perf_counter()
            model = json_request(
                f"{url}/api/v1/downloads", {"model_id": repo, "source": "huggingface"}, 3600
            )
            seconds = time.perf_counter() - started
            return {
                "seconds": seconds,
                "bytes": model["size_bytes"],
                "rss": peak_rss(process.pid),
                "idle_rss": idle,
            }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def curl(endpoint: str, repo: str, scratch: Path) -> dict[str, Any]:
    target = Path(tempfile.mkdtemp(prefix="curl-", dir=scratch)) / BIG_FILE
    try:
        started = time.perf_counter()
        subprocess.run(
            ["curl", "-s", "-f", "-o", str(target), f"{endpoint}/{repo}/resolve/main/{BIG_FILE}"],
            check=True,
        )
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "bytes": target.stat().st_size, "rss": None}
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)


def measure(contender: str, endpoint: str, repo: str, scratch: Path) -> dict[str, Any]:
    if contender == "devon":
        return served(endpoint, repo, scratch, None)
    if contender == "devon-1-connection":
        return served(endpoint, repo, scratch, 1)
    if contender == "curl":
        return curl(endpoint, repo, scratch)
    result = bench_download.measure("snapshot_download", endpoint, repo, scratch)
    return {"seconds": result["seconds"], "bytes": result["bytes"], "rss": result["max_rss_mib"]}


def case(
    label: str, endpoint: str, repo: str, args: argparse.Namespace, scratch: Path
) -> list[list[object]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):  # contenders interleaved, so load drifts hit them alike
        for contender in args.contenders.split(","):
            runs.setdefault(contender, []).append(measure(contender, endpoint, repo, scratch))
            print(label, contender, f"{runs[contender][-1]['seconds']:.2f} s", flush=True)
    medians = {c: statistics.median(r["seconds"] for r in rs) for c, rs in runs.items()}
    one, plain = medians.get("devon-1-connection"), medians.get("curl")
    rows: list[list[object]] = []
    for contender, results in runs.items():
        seconds = medians[contender]
        rss = [r["rss"] for r in results if r["rss"] is not None]
        idle = [r["idle_rss"] for r in results if r.get("idle_rss")]
        rows.append(
            [
                label,
                contender,
                f"{seconds:.2f}",
                f"{results[0]['bytes'] / MIB / seconds:.0f}",
                f"{one / seconds:.2f}" if one else "-",
                f"{plain / seconds:.2f}" if plain else "-",
                (f"{max(rss):.0f}" if rss else "-") + (f" (idle {idle[0]:.0f})" if idle else ""),
            ]
        )
    return rows


def memory(endpoint: str, sizes: list[int], scratch: Path) -> list[list[object]]:
    rows: list[list[object]] = []
    for size in sizes:
        result = served(endpoint, repo_for(size), scratch, None)
        rows.append(
            [f"{size} MiB", f"{result['seconds']:.2f}", f"{result['rss']:.0f}",
             f"{result['idle_rss']:.0f}"]
        )  # fmt: skip
        print("memory", size, result, flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3, help="medians of this many (3)")
    parser.add_argument("--rate", default="40mbit", help="per-connection limit (40mbit)")
    parser.add_argument("--throttled-mb", type=int, default=64, help="file size, throttled (64)")
    parser.add_argument("--size-mb", type=int, default=512, help="file size, unthrottled (512)")
    parser.add_argument("--memory-mb", type=int, default=2048, help="second size for RSS (2048)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--skip-throttled", action="store_true")
    parser.add_argument("--skip-unthrottled", action="store_true")
    parser.add_argument("--scratch", default=None, help="directory for the downloads")
    args = parser.parse_args()
    if args.hub:
        serve_hub([int(s) for s in args.hub[0].split(",")], args.hub[1])
        return 0
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="devon-bench-bigfile-"))
    rows: list[list[object]] = []
    memory_rows: list[list[object]] = []
    loads = [os.getloadavg()[0]]
    try:
        if not args.skip_throttled:
            with hub([args.throttled_mb], args.rate) as endpoint:
                label = f"{args.throttled_mb} MiB, {args.rate} per connection"
                rows += case(label, endpoint, repo_for(args.throttled_mb), args, scratch)
            loads.append(os.getloadavg()[0])
        if not args.skip_unthrottled:
            with hub(sorted({args.size_mb, args.memory_mb}), "0") as endpoint:
                label = f"{args.size_mb} MiB, unthrottled"
                rows += case(label, endpoint, repo_for(args.size_mb), args, scratch)
                loads.append(os.getloadavg()[0])
                memory_rows = memory(endpoint, [args.size_mb, args.memory_mb], scratch)
            loads.append(os.getloadavg()[0])
    finally:
        if not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(machine())
    print(f"1-minute load average at the start and after each case: {loads}")
    print(f"{args.rounds} round(s), medians; RSS: the largest peak")
    print()
    header = ("case", "contender", "seconds", "MiB/s", "x one connection", "x curl", "peak RSS MiB")
    print(markdown_table(header, rows))
    if memory_rows:
        print()
        memory_header = ("file", "devon seconds", "peak RSS MiB", "idle RSS MiB")
        print(markdown_table(memory_header, memory_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
