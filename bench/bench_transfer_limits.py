"""One large file against a test hub whose connections are limited, differently per
connection: work stealing, adaptive connections and the tail (issue 30, ADR 0225).

    .venv/bin/python bench/bench_transfer_limits.py                  # every case, 3 rounds
    .venv/bin/python bench/bench_transfer_limits.py --cases slow-one --rounds 1
    .venv/bin/python bench/bench_transfer_limits.py --before main --cases slow-one,capped
    .venv/bin/python bench/bench_transfer_limits.py --cases unthrottled --size-mb 512
    .venv/bin/python bench/bench_transfer_limits.py --cases slow-one --rounds 1 --trace

The hub runs in this process (a thread; `devon_testhub`), so that it can say when each body
byte left it; each download runs in a fresh child process (`HuggingFaceSource.download`
with the default connection settings, checksums verified) and reports how long the
download call took. With `--before REF`, the same child runs the code of git ref `REF`
(exported into a temporary tree) as a second contender, interleaved round by round with
this tree's, so that load drifts hit both alike. With `--trace`, each download is followed
by the requests that sent body bytes during its last 5%: the connection that carried each
(numbered in the order the hub saw them), that connection's limit, the span asked, and when
it was asked and its first and last body bytes left (from the download's start). Cases:

- `slow-one`: every TCP connection limited to `--fast` bytes per second, except one in
  eight limited to 1/20th of that; beside the same file with every connection fast. Target:
  the time with the slow connection at most 1.3x the time with all fast.
- `capped`: every connection capped at `--cap` bytes per second; the rate the transfer
  reaches in its steady state (the bytes between 50% and 95% of the file, from the hub's
  clock) against (connections x cap) for the connections then open, and against
  (maximum x cap). Target: at least 90% of (maximum x cap) when the file is long enough
  to grow there.
- `tail`: from the same runs, how long the last 5% of the bytes took against their share
  (5%) of the whole transfer. Target: at most 2x.

- `unthrottled`: no limit; beside `curl -s -o FILE URL` of the same file to the same disk,
  interleaved (curl verifies nothing). Target: at least 0.6x curl's speed.
"""

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import MIB, exported_tree, machine, markdown_table
from devon_testhub import Catalogue, TestHub
from devon_testhub.server import _HubHandler

TRACE: list[dict[str, Any]] | None = None
"""With `--trace`: every file request the hub served in the current download."""

REPO = "bench/limits"
FILE = "model-00001-of-00001.safetensors"
SRC = Path(__file__).resolve().parent.parent / "src"

CHILD = """
import json, sys, time
from devon_adapters.huggingface import HuggingFaceSource
endpoint, repo, path, dest = sys.argv[1:]
source = HuggingFaceSource(endpoint=endpoint, token=False, cache_ttl=0.0)
model = source.info(repo)
started = time.monotonic()
source.download(model, [f for f in model.files if f.path == path], dest)
print(json.dumps({"started": started, "ended": time.monotonic()}))
"""


def trace_requests(hub: TestHub) -> None:
    """Wrap the hub's body sender so that each request says which connection carried it,
    that connection's limit, its span, and when its first and last body bytes left."""
    global TRACE
    TRACE = []
    current = threading.local()
    numbers = itertools.count()
    original_stream = _HubHandler._stream
    stats = hub.stats
    original_sent = stats.sent

    def traced(handler: Any, repo: Any, item: Any, start: int, end: int) -> None:
        if not hasattr(handler, "trace_number"):  # one handler per TCP connection
            handler.trace_number = next(numbers)
        current.record = {
            "connection": handler.trace_number,
            "rate": handler._connection_rate,
            "span": (start, end),
            "asked": time.monotonic(),
            "first": None,
            "last": None,
            "sent": 0,
        }
        if TRACE is not None:
            TRACE.append(current.record)
        try:
            original_stream(handler, repo, item, start, end)
        finally:
            current.record = None

    def sent(count: int) -> None:
        record = getattr(current, "record", None)
        if record is not None:
            now = time.monotonic()
            record["first"] = record["first"] or now
            record["last"] = now
            record["sent"] += count
        original_sent(count)

    _HubHandler._stream = traced  # type: ignore[method-assign,assignment]
    stats.sent = sent  # type: ignore[method-assign]


def print_tail(started: float, marks: dict[float, float]) -> None:
    """The requests that sent body bytes during the last 5% (from the trace)."""
    if TRACE is None:
        return
    tail_from = marks[0.95]
    names: dict[int, int] = {}
    for record in TRACE:
        names.setdefault(record["connection"], len(names))
    print(f"  connections {len(names)}, requests {len(TRACE)}; last 5% from "
          f"{tail_from - started:.2f} s to {marks[1.0] - started:.2f} s")  # fmt: skip
    for record in TRACE:
        if record["last"] is None or record["last"] < tail_from:
            continue
        start, end = record["span"]
        print(
            f"  conn {names[record['connection']]:>2} rate {record['rate'] or '-'!s:>8} "
            f"bytes {start}-{end} ({(end - start) / MIB:.2f} MiB) "
            f"asked {record['asked'] - started:.2f} "
            f"first {record['first'] - started:.2f} last {record['last'] - started:.2f} "
            f"sent {record['sent'] / MIB:.2f} MiB"
        )
    TRACE.clear()


def download(hub: TestHub, src: Path, scratch: Path) -> dict[str, float]:
    """One download in a fresh child process running the code under `src`; its start and
    end on this machine's monotonic clock, and the hub's peak of connections."""
    dest = Path(tempfile.mkdtemp(prefix="limits-", dir=scratch))
    hub.stats.reset()
    try:
        env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_DISABLE_TELEMETRY": "1"}
        out = subprocess.run(
            [sys.executable, "-c", CHILD, hub.url, REPO, FILE, str(dest)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        times = json.loads(out.strip().splitlines()[-1])
        return {
            "seconds": times["ended"] - times["started"],
            "peak": hub.stats.peak_concurrency(),
            **shape(hub, times["started"]),
        }
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def curl(hub: TestHub, scratch: Path) -> dict[str, float]:
    target = Path(tempfile.mkdtemp(prefix="curl-", dir=scratch)) / FILE
    hub.stats.reset()
    try:
        url = f"{hub.url}/{REPO}/resolve/main/{FILE}"
        started = time.monotonic()
        subprocess.run(["curl", "-s", "-f", "-o", str(target), url], check=True)
        ended = time.monotonic()
        return {"seconds": ended - started, "peak": 1, **shape(hub, started)}
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)


def shape(hub: TestHub, started: float) -> dict[str, float]:
    """From the hub's clock: when the body bytes reached 50%, 95% and 100% of the file, and
    the steady rate between 50% and 95%."""
    sent = hub.stats.body_timeline()
    total = sum(count for _, count in sent)
    marks: dict[float, float] = {}
    running = 0
    for at, count in sent:
        running += count
        for fraction in (0.5, 0.95, 1.0):
            if fraction not in marks and running >= fraction * total:
                marks[fraction] = at
    print_tail(started, marks)
    whole = marks[1.0] - started
    tail = marks[1.0] - marks[0.95]
    steady = 0.45 * total / max(marks[0.95] - marks[0.5], 1e-9)
    return {"tail_x_share": tail / (0.05 * whole), "steady": steady}


def run_case(
    hub: TestHub, legs: dict[str, Any], contenders: dict[str, Path], rounds: int, scratch: Path
) -> dict[tuple[str, str], list[dict[str, float]]]:
    """Every (leg, contender) `rounds` times, interleaved; `legs` set the hub's faults."""
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(rounds):
        for leg, set_up in legs.items():
            for contender, src in contenders.items():
                hub.faults.reset()
                set_up(hub)
                result = curl(hub, scratch) if contender == "curl" else download(hub, src, scratch)
                results.setdefault((leg, contender), []).append(result)
                print(leg, contender, {k: round(v, 2) for k, v in result.items()}, flush=True)
    return results


def median(results: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", default="slow-one,capped,unthrottled")
    parser.add_argument("--size-mb", type=int, default=256, help="the file (256 MiB)")
    parser.add_argument("--fast", type=int, default=4_000_000, help="slow-one: bytes/s (4 MB/s)")
    parser.add_argument("--cap", type=int, default=1_000_000, help="capped: bytes/s (1 MB/s)")
    parser.add_argument("--maximum", type=int, default=32, help="the connections setting (32)")
    parser.add_argument("--before", default=None, help="git ref to run beside this tree")
    parser.add_argument(
        "--trace", action="store_true", help="print the requests sending in each last 5%%"
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="devon-bench-limits-"))
    contenders = {"now": SRC}
    if args.before:
        tree = exported_tree(args.before, scratch / "before", "src")
        contenders[args.before] = tree / "src"
    catalogue = Catalogue.default().with_large_repo(REPO, args.size_mb * MIB, 1)
    catalogue.warm()
    loads = [os.getloadavg()[0]]
    rows: list[list[object]] = []
    try:
        with TestHub(catalogue) as hub:
            threading.current_thread().name = "bench"
            if args.trace:
                trace_requests(hub)
            cases = args.cases.split(",")
            if "slow-one" in cases:
                fast = args.fast
                legs = {
                    "all fast": lambda h: h.faults.vary_connection_rates([fast]),
                    "one in 8 at 1/20": lambda h: h.faults.vary_connection_rates(
                        [fast // 20] + [fast] * 7
                    ),
                }
                results = run_case(hub, legs, contenders, args.rounds, scratch)
                for contender in contenders:
                    fast_s = median(results[("all fast", contender)], "seconds")
                    slow_s = median(results[("one in 8 at 1/20", contender)], "seconds")
                    for leg, seconds in (("all fast", fast_s), ("one in 8 at 1/20", slow_s)):
                        runs = results[(leg, contender)]
                        rows.append(
                            [f"slow-one: {leg}", contender, f"{seconds:.2f}",
                             f"{seconds / fast_s:.2f}", f"{median(runs, 'peak'):.0f}",
                             f"{median(runs, 'tail_x_share'):.2f}", "-"]
                        )  # fmt: skip
                loads.append(os.getloadavg()[0])
            if "capped" in cases:
                cap = args.cap
                legs = {"capped": lambda h: h.faults.limit_connection_rate(cap)}
                results = run_case(hub, legs, contenders, args.rounds, scratch)
                for contender in contenders:
                    runs = results[("capped", contender)]
                    steady = median(runs, "steady")
                    peak = median(runs, "peak")
                    rows.append(
                        [f"capped at {cap / 1e6:g} MB/s", contender,
                         f"{median(runs, 'seconds'):.2f}", "-", f"{peak:.0f}",
                         f"{median(runs, 'tail_x_share'):.2f}",
                         f"{steady / 1e6:.1f} MB/s = {steady / (peak * cap):.2f} of peak x cap, "
                         f"{steady / (args.maximum * cap):.2f} of {args.maximum} x cap"]
                    )  # fmt: skip
                loads.append(os.getloadavg()[0])
            if "unthrottled" in cases:
                legs = {"unthrottled": lambda h: None}
                with_curl = {**contenders, "curl": SRC}
                results = run_case(hub, legs, with_curl, args.rounds, scratch)
                curl_s = median(results[("unthrottled", "curl")], "seconds")
                for contender in with_curl:
                    runs = results[("unthrottled", contender)]
                    seconds = median(runs, "seconds")
                    rows.append(
                        ["unthrottled", contender, f"{seconds:.2f}", "-",
                         f"{median(runs, 'peak'):.0f}", f"{median(runs, 'tail_x_share'):.2f}",
                         f"{curl_s / seconds:.2f} x curl's speed"]
                    )  # fmt: skip
                loads.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(machine())
    print(f"1-minute load average at the start and after each case: {loads}")
    print(f"{args.size_mb} MiB file, {args.rounds} round(s) interleaved, medians")
    print()
    header = (
        "case",
        "code",
        "seconds",
        "x all fast",
        "peak connections",
        "last 5% x share",
        "steady rate",
    )
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
