"""The fleet: time until every one of 1, 2, 4 and 8 hosts holds a model, with the Hub's link
limited and the LAN not (issue 28; ADRs 0241, 0242).

    python bench/bench_fleet.py [--size-mb 1024] [--hub-mb-per-s 12] [--hosts 1,2,4,8]
                                [--dir /tmp/somewhere] [--count-central]

For each fleet size: a fresh test hub in this process holding one sharded model of
`--size-mb` (bytes made on demand) whose file bodies go out at `--hub-mb-per-s` MiB/s in all
(the hub's bandwidth limit: the lab's internet link); a central DEVON (`devon serve`,
pull-through) and N host DEVONs (`DEVON_UPSTREAM`, `DEVON_PUBLIC_URL`) as processes on
loopback, each with its own vault; one `PUT /api/v1/placements` for every host, and the time
until the central lists them all `ready`. Also the bytes the hub sent and how many whole
files the central sent (its request log). Prints a Markdown table (docs/benchmarks.md,
"Fleet"); the goal is <= 1.5x the one-host time at 8 hosts.

Files above the split size go as ranges (206), which the request log does not measure:
`--count-central` counts the bytes leaving the central's port with a `tc` filter on `lo`
(root; run it in a network namespace of its own, whose `lo` nobody else uses:
`ip netns add fleetbench && ip netns exec fleetbench python bench/bench_fleet.py ...`).
"""

import argparse
import json
import os
import re
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


def tc(*args: str) -> None:
    subprocess.run(["tc", *args], check=True, capture_output=True)


class PortCounter:
    """Bytes (IP packets) leaving a loopback port, by a `tc` u32 filter on `lo`'s ingress."""

    def __init__(self, port: int) -> None:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True)
        tc("qdisc", "replace", "dev", "lo", "handle", "ffff:", "ingress")
        tc(
            "filter", "add", "dev", "lo", "parent", "ffff:", "protocol", "ip", "prio", "1",
            "u32", "match", "ip", "sport", str(port), "0xffff", "action", "pass",
        )  # fmt: skip

    def bytes(self) -> int:
        shown = subprocess.run(
            ["tc", "-s", "filter", "show", "dev", "lo", "parent", "ffff:"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return sum(int(n) for n in re.findall(r"Sent (\d+) bytes", shown))

    def close(self) -> None:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "ingress"], capture_output=True)


def one_fleet(root: Path, hub: TestHub, hosts: int, count: bool) -> dict[str, Any]:
    processes: list[subprocess.Popen[bytes]] = []
    counter: PortCounter | None = None
    try:
        env = base_env(root, "central") | {
            "HF_ENDPOINT": hub.url,
            "DEVON_HUB_PULL_THROUGH": "1",
            "DEVON_API_KEY": KEY,
        }
        central, url = start(env, root / "central.log")
        processes.append(central)
        counter = PortCounter(int(url.rsplit(":", 1)[1])) if count else None
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
        counted = counter.bytes() if counter is not None else 0
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
        size = sum(f.size for f in hub.catalogue[MODEL].files)
        hub_bytes = sum(hub.stats.bytes_served(f.path) for f in hub.catalogue[MODEL].files)
        log = (root / "central.log").read_text(errors="replace").splitlines()
        sent = sum(1 for line in log if f"GET /{MODEL}/resolve/" in line and " 200 " in line)
        central_x = (counter.bytes() - counted) / size if counter is not None else None
        return {
            "hosts": hosts,
            "seconds": elapsed,
            "hub_x": hub_bytes / size,
            "central_files": sent,
            "files": len(hub.catalogue[MODEL].files),
            "central_x": central_x,
            "load": os.getloadavg()[0],
        }
    finally:
        if counter is not None:
            counter.close()
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
    parser.add_argument("--count-central", action="store_true")
    args = parser.parse_args()
    catalogue = Catalogue.default().with_large_repo(MODEL, args.size_mb * 1024 * 1024, shards=4)
    catalogue.warm()
    results = []
    for hosts in (int(n) for n in args.hosts.split(",")):
        root = Path(tempfile.mkdtemp(prefix=f"fleet-{hosts}-", dir=args.dir))
        try:
            with TestHub(catalogue).start() as hub:
                hub.faults.set_bandwidth(int(args.hub_mb_per_s * 1024 * 1024))
                results.append(one_fleet(root, hub, hosts, args.count_central))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print(f"# {results[-1]}", file=sys.stderr)
    one = results[0]["seconds"]
    print(f"Model {args.size_mb} MiB in 4 files; the Hub's link {args.hub_mb_per_s:g} MiB/s.\n")
    print("| hosts | until all ready | vs 1 host | Hub sent | central sent | load (1 min) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        central = (
            f"{r['central_x']:.2f}x"
            if r["central_x"] is not None
            else f"{r['central_files'] / r['files']:.2f}x (whole files)"
        )
        print(
            f"| {r['hosts']} | {r['seconds']:.1f} s | {r['seconds'] / one:.2f}x "
            f"| {r['hub_x']:.2f}x | {central} | {r['load']:.1f} |"
        )


if __name__ == "__main__":
    main()
