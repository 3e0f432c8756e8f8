"""The fleet: time until every one of 1, 2, 4 and 8 hosts holds a model, with the Hub's link
limited and the LAN not (issue 28; ADRs 0241, 0242).

    python bench/bench_fleet.py [--size-mb 1024] [--hub-mb-per-s 12] [--hosts 1,2,4,8]
                                [--dir /tmp/somewhere]

For each fleet size: a fresh test hub in this process holding one sharded model of
`--size-mb` (bytes made on demand) whose file bodies go out at `--hub-mb-per-s` MiB/s in all
(the hub's bandwidth limit: the lab's internet link); a central DEVON (`devon serve`,
pull-through) and N host DEVONs (`DEVON_UPSTREAM`, `DEVON_PUBLIC_URL`) as processes on
loopback, each with its own vault; one `PUT /api/v1/placements` for every host, and the time
until the central lists them all `ready`. Also the bytes the hub sent and how many whole
files the central sent (its request log). Prints a Markdown table (docs/benchmarks.md,
"Fleet"); the goal is <= 1.5x the one-host time at 8 hosts.

Files above the split size go as ranges (206), which the request log does not count, so
"central sent" is the central server process's written bytes (`/proc/<pid>/io` `wchar`,
which counts what `sendfile` sends) over the model's size: its downloads run in a child
process and are not in it; its index and log writes are (a little over the bytes sent).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devon_testhub import Catalogue, TestHub

MODEL = "bench/fleet-model"
KEY = "hf_benchfleet0123456789abcdefghijklmnop"
SERVE = "from devon_http.serve import serve; import sys; serve(port=int(sys.argv[1]))"


def written(pid: int) -> int:
    """Bytes process `pid` has written (files and sockets, `sendfile` included)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError(f"no wchar for {pid}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def call(url: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {KEY}")
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.loads(answer.read())


def start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port)], env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):  # noqa: S310
                return process, url
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} never answered /health (see {log})")


def base_env(root: Path, vault: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVON_", "HF_"))}
    env.update(
        DEVON_STORAGE_PATH=str(root / vault),
        HF_HOME=str(root / "hf-home"),
        XDG_CONFIG_HOME=str(root / "config"),
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    return env


def one_fleet(root: Path, hub: TestHub, hosts: int) -> dict[str, Any]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        env = base_env(root, "central") | {
            "HF_ENDPOINT": hub.url,
            "DEVON_HUB_PULL_THROUGH": "1",
            "DEVON_API_KEY": KEY,
        }
        central, url = start(env, root / "central.log")
        processes.append(central)
        names = [f"gpu{n}" for n in range(1, hosts + 1)]
        for name in names:
            port = free_port()
            env = base_env(root, name) | {
                "DEVON_UPSTREAM": url,
                "DEVON_UPSTREAM_KEY": KEY,
                "DEVON_HOST_NAME": name,
                "DEVON_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "DEVON_HEARTBEAT_INTERVAL": "0.5",
                "HF_ENDPOINT": "http://127.0.0.1:9",
            }
            with (root / f"{name}.log").open("ab") as out:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-c", SERVE, str(port)], env=env, stdout=out, stderr=out
                    )
                )
        while len(call(url + "/api/v1/hosts")["hosts"]) < hosts:
            time.sleep(0.2)
        hub.stats.reset()
        wrote = written(central.pid)
        began = time.monotonic()
        call(url + "/api/v1/placements", "PUT", {"model_id": MODEL, "hosts": names})
        while True:
            rows = call(url + f"/api/v1/placements?model_id={MODEL}")["placements"]
            if all(r["state"] == "ready" for r in rows):
                break
            if any(r["state"] == "failed" for r in rows):
                raise RuntimeError(f"a placement failed: {rows}")
            time.sleep(0.2)
        elapsed = time.monotonic() - began
        central_bytes = written(central.pid) - wrote
        size = sum(f.size for f in hub.catalogue[MODEL].files)
        hub_bytes = sum(hub.stats.bytes_served(f.path) for f in hub.catalogue[MODEL].files)
        log = (root / "central.log").read_text(errors="replace").splitlines()
        sent = sum(1 for line in log if f"GET /{MODEL}/resolve/" in line and " 200 " in line)
        return {
            "hosts": hosts,
            "seconds": elapsed,
            "hub_x": hub_bytes / size,
            "central_files": sent,
            "files": len(hub.catalogue[MODEL].files),
            "central_x": central_bytes / size,
            "load": os.getloadavg()[0],
        }
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--hub-mb-per-s", type=float, default=12.0)
    parser.add_argument("--hosts", default="1,2,4,8")
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    catalogue = Catalogue.default().with_large_repo(MODEL, args.size_mb * 1024 * 1024, shards=4)
    catalogue.warm()
    results = []
    for hosts in (int(n) for n in args.hosts.split(",")):
        root = Path(tempfile.mkdtemp(prefix=f"fleet-{hosts}-", dir=args.dir))
        try:
            with TestHub(catalogue).start() as hub:
                hub.faults.set_bandwidth(int(args.hub_mb_per_s * 1024 * 1024))
                results.append(one_fleet(root, hub, hosts))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print(f"# {results[-1]}", file=sys.stderr)
    one = results[0]["seconds"]
    print(f"Model {args.size_mb} MiB in 4 files; the Hub's link {args.hub_mb_per_s:g} MiB/s.\n")
    print(
        "| hosts | until all ready | vs 1 host | Hub sent | central sent "
        "| whole files from the central | load (1 min) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['hosts']} | {r['seconds']:.1f} s | {r['seconds'] / one:.2f}x "
            f"| {r['hub_x']:.2f}x | {r['central_x']:.2f}x "
            f"| {r['central_files'] / r['files']:.2f}x | {r['load']:.1f} |"
        )


if __name__ == "__main__":
    main()
