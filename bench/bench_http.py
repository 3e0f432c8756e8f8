"""HTTP benchmark: how fast the API answers, idle and while a large download runs.

    python bench/bench_http.py [--size-mb 1024] [--requests 300] [--dir /tmp/somewhere]

Serves the composed app (disk vault, Hugging Face source on a local test hub) with uvicorn
on loopback, then:
1. times `GET /health` and `GET /api/v1/models` one after another while idle;
2. starts `POST /api/v1/downloads` of a `--size-mb` model and times the same requests while
   it runs (the point: they must stay fast, the download runs in a worker thread);
3. reports the download's own throughput over HTTP.
Prints a Markdown table.
"""

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from devon_app import Settings
from devon_http.asgi import create_app_from_settings
from devon_http.serve import running
from devon_testhub import Catalogue, run_test_hub

BIG = "bench/big-http"


def latencies_ms(client: httpx.Client, path: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> str:
    if not times:  # a download too short to be sampled
        return "- | - | 0"
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered):.2f} | {p99:.2f} | {len(ordered)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="devon-bench-http-"))
    catalogue = Catalogue.default().with_large_repo(BIG, total_bytes=args.size_mb * 1024**2)
    catalogue.warm()
    rows: list[str] = []
    try:
        with run_test_hub(catalogue) as hub:
            settings = Settings(storage_path=root / "vault", hf_endpoint=hub.url)
            with (
                running(create_app_from_settings(settings)) as url,
                httpx.Client(base_url=url) as c,
            ):
                for path in ("/health", "/api/v1/models"):
                    rows.append(
                        f"| {path}, idle | {summary(latencies_ms(c, path, args.requests))} |"
                    )
                done: list[float] = []

                def download() -> None:
                    started = time.perf_counter()
                    response = httpx.post(
                        f"{url}/api/v1/downloads", json={"model_id": BIG}, timeout=3600
                    )
                    response.raise_for_status()
                    done.append(time.perf_counter() - started)

                runner = threading.Thread(target=download)
                runner.start()
                time.sleep(0.2)  # let the transfer get going
                during: dict[str, list[float]] = {"/health": [], "/api/v1/models": []}
                while runner.is_alive():
                    for path, times in during.items():
                        times.extend(latencies_ms(c, path, 1))
                for path, times in during.items():
                    rows.append(f"| {path}, during the download | {summary(times)} |")
                runner.join()
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)  # the downloaded model: --size-mb of it
    seconds = done[0]
    print(
        f"\nDownload of {args.size_mb} MB over the API: {seconds:.2f} s, "
        f"{args.size_mb / seconds:.0f} MB/s\n"
    )
    print("| request | median ms | p99 ms | n |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
