"""A model of several large files downloaded whole: large files one after another (ADR 0290)
against the code of `--before`, interleaved round by round.

    .venv/bin/python bench/bench_large_files_in_turn.py --before main
    .venv/bin/python bench/bench_large_files_in_turn.py --before main --cases capped --rounds 1

The hub runs in this process (`devon_testhub`, so that it can say when each body byte left
it), holding one model of `--shards` files of `--shard-mb` MiB; each download runs in a fresh
child process (`HuggingFaceSource.download` of every file, default connection settings,
checksums verified). Cases:

- `unthrottled`: no limit (loopback: the CPU is the limit).
- `capped`: every connection capped at `--cap` bytes per second (the Hub's CDN edges cap one
  connection; DEVON's connections grow to 32).
- `link`: the hub's bandwidth limited to `--link-mb` MiB/s in all (a lab's internet link).

"Seconds" is the download call; "first file" is when the hub had sent the whole of the first
file to land (its last request's end), from the start of the call: what a client waiting for
that file (a fleet host behind a pull-through central) waits.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import MIB, exported_tree, machine, markdown_table
from devon_testhub import Catalogue, TestHub

REPO = "bench/in-turn"
SRC = Path(__file__).resolve().parent.parent / "src"

CHILD = """
import json, sys, time
from devon_adapters.huggingface import HuggingFaceSource
endpoint, repo, dest = sys.argv[1:]
source = HuggingFaceSource(endpoint=endpoint, token=False, cache_ttl=0.0)
model = source.info(repo)
started = time.monotonic()
source.download(model, model.files, dest)
print(json.dumps({"started": started, "ended": time.monotonic()}))
"""


def download(hub: TestHub, src: Path, scratch: Path, shards: list[str]) -> dict[str, float]:
    dest = Path(tempfile.mkdtemp(prefix="in-turn-", dir=scratch))
    hub.stats.reset()
    try:
        env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_DISABLE_TELEMETRY": "1"}
        out = subprocess.run(
            [sys.executable, "-c", CHILD, hub.url, REPO, str(dest)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        times = json.loads(out.strip().splitlines()[-1])
        whole = [
            max(r.ended_at for r in hub.stats.requests(path, "GET") if r.status in (200, 206))
            for path in shards
        ]
        return {
            "seconds": times["ended"] - times["started"],
            "first": min(whole) - times["started"],
        }
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default="unthrottled,capped,link")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--shard-mb", type=int, default=128)
    parser.add_argument("--cap", type=int, default=2_000_000, help="capped: bytes/s (2 MB/s)")
    parser.add_argument("--link-mb", type=float, default=12.0, help="link: MiB/s (12)")
    parser.add_argument("--before", default=None, help="git ref to run beside this tree")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="devon-bench-in-turn-"))
    contenders = {"now": SRC}
    if args.before:
        tree = exported_tree(args.before, scratch / "before", "src")
        contenders[args.before] = tree / "src"
    catalogue = Catalogue.default().with_large_repo(
        REPO, args.shards * args.shard_mb * MIB, args.shards
    )
    catalogue.warm()
    shards = [f.path for f in catalogue[REPO].files if f.path.endswith(".safetensors")]
    legs: dict[str, Callable[[TestHub], None]] = {
        "unthrottled": lambda h: None,
        "capped": lambda h: h.faults.limit_connection_rate(args.cap),
        "link": lambda h: h.faults.set_bandwidth(int(args.link_mb * MIB)),
    }
    loads = [os.getloadavg()[0]]
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        with TestHub(catalogue) as hub:
            threading.current_thread().name = "bench"
            for _ in range(args.rounds):
                for case in args.cases.split(","):
                    for contender, src in contenders.items():
                        hub.faults.reset()
                        legs[case](hub)
                        result = download(hub, src, scratch, shards)
                        results.setdefault((case, contender), []).append(result)
                        print(case, contender, {k: round(v, 2) for k, v in result.items()})
                loads.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows: list[list[Any]] = []
    for (case, contender), runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        first = statistics.median(r["first"] for r in runs)
        size = args.shards * args.shard_mb
        rows.append(
            [case, contender, f"{seconds:.2f}", f"{size / seconds:.1f}", f"{first:.2f}"]
        )  # fmt: skip
    print()
    print(machine())
    print(f"1-minute load average at the start and after each round: {loads}")
    rounds = f"{args.rounds} round(s) interleaved, medians"
    print(f"{args.shards} files of {args.shard_mb} MiB, {rounds}")
    print()
    print(markdown_table(("case", "code", "seconds", "MiB/s", "first file whole (s)"), rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
