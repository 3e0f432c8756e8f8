"""DEVON's Hub endpoint beside nginx: one large vault file to one client, and to eight at
once while `/health` is probed (issue 27; ADR 0216).

    python bench/bench_hub_endpoint.py [--size-mb 1024] [--rounds 5] [--clients 8]
                                       [--dir /tmp/somewhere]

Lays out a vault holding one model with a `--size-mb` file of random bytes (registered as
`devon scan` does; its sha256 is computed once, before timing), serves it with `devon serve`
(one worker) and the same folder with Debian's nginx (`sendfile on`, `worker_processes auto`
as Debian ships it, on its own loopback port, started here with its own config: not the
system service; installed with `apt-get install nginx` when missing). The client is
`curl -o /dev/null`.

1. One client: `--rounds` rounds, each fetching the file once from nginx, once from DEVON's
   `/{repo}/resolve/main/{file}`, and once from the same app under plain uvicorn (no
   `devon.sendfile` extension: the file read and sent in 1 MiB pieces, ADR 0216),
   interleaved, so that the shared machine's load falls on all alike; the table gives each
   leg's median and the ratio of medians.
2. Eight clients (`--clients`) at once, from each server in turn, with `/health` probed on
   DEVON every 20 ms by `bench/loadgen.py` in another process; the same probe on the idle
   server first. Throughput is the bytes of all clients over the time of the slowest.

Prints Markdown tables (docs/benchmarks.md, "Hub endpoint").
"""

import argparse
import json
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

from bench.common import (
    LOOPBACK,
    MIB,
    devon_server,
    free_port,
    machine,
    markdown_table,
)

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
REPO = "bench/big-model"
FILE = "model.safetensors"


def lay_out_vault(storage: Path, size_mb: int) -> Path:
    """A vault at `storage` holding `REPO` with one `size_mb` file; the model's folder."""
    from devon_app import Settings, build_devon

    folder = storage / "huggingface" / REPO
    folder.mkdir(parents=True)
    block = os.urandom(MIB)
    with open(folder / FILE, "wb") as out:
        for _ in range(size_mb):
            out.write(block)
    (folder / "config.json").write_text('{"model_type": "llama"}\n')
    devon = build_devon(Settings(storage_path=storage))
    devon.scan()
    devon.hub_model(REPO)  # computes and caches the file's sha256 before any timing
    return folder


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    print("nginx is missing: apt-get install -y nginx", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "nginx"], check=True)
    return "/usr/sbin/nginx"


NGINX_CONF = """\
{user}
worker_processes auto;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    sendfile on;
    tcp_nopush on;
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen {host}:{port};
        root {root};
    }}
}}
"""


@contextmanager
def nginx_server(root: Path, scratch: Path) -> Iterator[str]:
    """nginx serving the folder `root` on a free loopback port, until the block ends."""
    prefix = scratch / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""  # its workers must read the vault
    conf.write_text(
        NGINX_CONF.format(user=user, prefix=prefix, host=LOOPBACK, port=port, root=root)
    )
    process = subprocess.Popen(
        [nginx_binary(), "-c", str(conf), "-p", str(prefix)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["curl", "-sf", "-o", "/dev/null", f"{url}/config.json"]).returncode:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {(prefix / 'error.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def plain_uvicorn(port: int) -> list[str]:
    """DEVON's app under uvicorn's own HTTP protocol (what `devon serve` runs but for
    `LimitedProtocol`, which offers the `devon.sendfile` extension) on `port`."""
    code = (
        "from devon_http.serve import APP_FACTORY, serve_app; "
        f"serve_app(APP_FACTORY, {LOOPBACK!r}, {port}, 1)"
    )
    return [sys.executable, "-c", code]


def curl(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url],
        stdout=subprocess.PIPE,
        text=True,
    )


def fetched(process: subprocess.Popen[str], size: int) -> float:
    """The seconds a `curl` took; RuntimeError unless it got `size` bytes."""
    output, _ = process.communicate(timeout=600)
    got, seconds = output.split()
    if int(got) != size:
        raise RuntimeError(f"curl got {got} bytes, expected {size}")
    return float(seconds)


def many(url: str, clients: int, size: int) -> float:
    """Aggregate MiB/s of `clients` curls fetching `url` at once."""
    started = time.perf_counter()
    processes = [curl(url) for _ in range(clients)]
    for process in processes:
        fetched(process, size)
    return clients * size / MIB / (time.perf_counter() - started)


PROBE_START_S = 1.5
"""Time for the probe's interpreter to start (and take SIGTERM as "report and stop")."""


def probe(url: str, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(LOADGEN), f"{url}/health", "--connections", "1",
         "--interval", "0.02", "--duration", str(seconds), "--max-requests", "100000"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def probe_result(process: subprocess.Popen[str]) -> dict[str, Any]:
    process.terminate()
    output, _ = process.communicate(timeout=60)
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="devon-bench-hub-", dir=args.dir))
    size = args.size_mb * MIB
    try:
        storage = scratch / "vault"
        folder = lay_out_vault(storage, args.size_mb)
        with (
            devon_server(storage) as (devon, _),
            devon_server(storage, command=plain_uvicorn) as (plain, _),
            nginx_server(folder, scratch) as nginx,
        ):
            path = f"/{REPO}/resolve/main/{FILE}"
            urls = {
                "nginx": f"{nginx}/{FILE}",
                "DEVON": f"{devon}{path}",
                "DEVON without sendfile": f"{plain}{path}",
            }
            for url in urls.values():  # all read from the page cache from here on
                fetched(curl(url), size)
            print(f"{machine()}\n")
            one_client(urls, size, args.rounds)
            del urls["DEVON without sendfile"]
            eight_clients(urls, devon, size, args.clients)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def one_client(urls: dict[str, str], size: int, rounds: int) -> None:
    times: dict[str, list[float]] = {name: [] for name in urls}
    for _ in range(rounds):
        for name, url in urls.items():
            times[name].append(fetched(curl(url), size))
    rates = {name: size / MIB / statistics.median(t) for name, t in times.items()}
    rows = [
        [name, f"{statistics.median(t):.3f}", f"{min(t):.3f}", f"{max(t):.3f}",
         f"{rates[name]:.0f}", f"{rates[name] / rates['nginx']:.2f}"]
        for name, t in times.items()
    ]  # fmt: skip
    print(f"One client, {size // MIB} MiB, {rounds} interleaved rounds\n")
    header = ["server", "median s", "min s", "max s", "MiB/s (median)", "vs nginx"]
    print(markdown_table(header, rows) + "\n")


def eight_clients(urls: dict[str, str], devon: str, size: int, clients: int) -> None:
    idle = probe(devon, 5)
    time.sleep(5)
    rows = [["idle", "-", *_latencies(probe_result(idle))]]
    for name, url in urls.items():
        health = probe(devon, 600)
        time.sleep(PROBE_START_S)
        rate = many(url, clients, size)
        rows.append(
            [f"{clients} clients from {name}", f"{rate:.0f}", *_latencies(probe_result(health))]
        )
    print(f"{clients} clients at once, {size // MIB} MiB each; /health probed every 20 ms\n")
    header = ["load", "MiB/s (all)", "/health probes", "errors", "p50 ms", "p99 ms", "max ms"]
    print(markdown_table(header, rows) + "\n")


def _latencies(result: dict[str, Any]) -> list[str]:
    return [
        str(result["requests"]),
        str(result["errors"]),
        f"{result['p50_ms']:.1f}",
        f"{result['p99_ms']:.1f}",
        f"{result['max_ms']:.1f}",
    ]


if __name__ == "__main__":
    main()
