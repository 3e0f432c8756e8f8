"""What a fleet host's heartbeat costs the central DEVON, by the number of models the host
holds (issue 28; ADR 0302).

    python bench/bench_heartbeat.py [--models 2000,20000,100000] [--beats 5] [--before GIT_REF]

For each count: the body a host agent sends (compact JSON, one entry per model, usual ids of
about 30 characters, each model used once), posted `--beats` times to a central (`devon
serve`, one worker, SQLite index) as the host `gpu1`; the median time to the answer, the
central process's CPU seconds per heartbeat (utime + stime from /proc), its peak RSS, and one
`GET /api/v1/hosts` (which lists every model of every host). Then the body-nesting check
(`devon_http.body.json_depth`) alone on the same body, in a fresh interpreter per run, this
tree and `--before` interleaved (the before tree's route refuses a body over 64 KiB, so only
that part of the path can be compared).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    MIB,
    devon_server,
    exported_tree,
    machine,
    markdown_table,
    process_tree_peak_rss_mib,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPTH_RUNS = 5
TIME_DEPTH = (
    "import sys, time; from devon_http.body import json_depth; body = open(sys.argv[1], 'rb')"
    ".read(); start = time.perf_counter(); json_depth(body); print(time.perf_counter() - start)"
)


def heartbeat_body(count: int) -> bytes:
    """What `HostAgent.heartbeat_body` sends for a host holding `count` models."""
    models = [
        {
            "source": "huggingface",
            "model_id": f"lab/model-{n:06d}-Instruct-GGUF",
            "size_bytes": 4_368_439_584,
            "last_used": "2026-12-07T18:06:15.509455+00:00",
            "pinned": False,
        }
        for n in range(count)
    ]
    report = {
        "url": "http://gpu1.lan:8000",
        "capacity_bytes": 2 * 10**12,
        "free_bytes": 10**12,
        "interval_s": 10.0,
        "models": models,
        "placements": [],
    }
    return json.dumps(report, separators=(",", ":")).encode()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(url: str, body: bytes) -> float:
    request = urllib.request.Request(  # noqa: S310 (our own loopback server)
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as answer:  # noqa: S310
        answer.read()
    return time.perf_counter() - started


def central_cost(count: int, beats: int, scratch: Path) -> list[object]:
    body = heartbeat_body(count)
    with devon_server(scratch / f"central-{count}" / "vault") as (url, process):
        walls, cpus = [], []
        for _ in range(beats):
            before = cpu_seconds(process.pid)
            walls.append(post(f"{url}/api/v1/hosts/gpu1/heartbeat", body))
            cpus.append(cpu_seconds(process.pid) - before)
        started = time.perf_counter()
        with urllib.request.urlopen(f"{url}/api/v1/hosts", timeout=600) as answer:  # noqa: S310
            answer.read()
        listed = time.perf_counter() - started
        rss = process_tree_peak_rss_mib(process.pid)
    return [
        f"{count:,}",
        f"{len(body) / MIB:.2f} MiB ({len(body) / count:.0f} B a model)",
        f"{median(walls):.3f} s",
        f"{median(cpus):.3f} s",
        f"{listed:.3f} s",
        f"{rss:.0f} MiB",
    ]


def depth_times(src: Path, body_file: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    answer = subprocess.run(
        [sys.executable, "-c", TIME_DEPTH, str(body_file)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(answer.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="2000,20000,100000")
    parser.add_argument("--beats", type=int, default=5)
    parser.add_argument("--before", default="", help="git ref whose json_depth to time too")
    args = parser.parse_args()
    counts = [int(n) for n in args.models.split(",")]
    print(machine())
    with tempfile.TemporaryDirectory(prefix="devon-bench-heartbeat-") as name:
        scratch = Path(name)
        rows = [central_cost(count, args.beats, scratch) for count in counts]
        header = ["models", "body", "heartbeat (median)", "central CPU a beat", "GET /hosts"]
        print(markdown_table([*header, "central peak RSS"], rows))
        if not args.before:
            return
        before = exported_tree(args.before, scratch / "before", "src") / "src"
        depth_rows = []
        for count in counts:
            body_file = scratch / f"body-{count}.json"
            body_file.write_bytes(heartbeat_body(count))
            now, then = [], []
            for _ in range(DEPTH_RUNS):  # interleaved: the machine's load hits both alike
                now.append(depth_times(REPO_ROOT / "src", body_file))
                then.append(depth_times(before, body_file))
            depth_rows.append([f"{count:,}", f"{median(then):.3f} s", f"{median(now):.3f} s"])
        print(markdown_table(["models", f"json_depth at {args.before}", "this tree"], depth_rows))
        print(machine())


if __name__ == "__main__":
    main()
