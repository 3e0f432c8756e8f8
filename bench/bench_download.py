"""Download throughput: DEVON's library vs `huggingface_hub.snapshot_download` vs one plain
HTTP stream, against the test hub on loopback.

    .venv/bin/python bench/bench_download.py            # full run (~2 GB repo + 1000 files)
    .venv/bin/python bench/bench_download.py --quick    # one round

The hub runs in its own process (`python -m devon_testhub --large`); every measured download
runs in a fresh child process, so that its peak RSS (`resource.getrusage`) is its own. Each
contender writes to a new directory on the same disk, deleted after the run. The figures go
to docs/benchmarks.md ("Downloads") by hand.
"""

import argparse
import json
import os
import re
import resource
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

BIG = "bench/big-2gb"
MANY = "bench/many-small"
CONTENDERS = ("devon", "devon-noverify", "snapshot_download", "plain-http")
MIB = 1024 * 1024


# ---- children: one download each, then a JSON line on stdout ------------------------


def run_child(contender: str, endpoint: str, repo: str, dest: Path) -> dict[str, Any]:
    started = time.perf_counter()
    if contender.startswith("devon"):
        count = _devon(endpoint, repo, dest, verify=contender == "devon")
    elif contender == "snapshot_download":
        count = _snapshot(endpoint, repo, dest)
    else:
        count = _plain(endpoint, repo, dest)
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file() and ".cache" not in p.parts)
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "bytes": size, "files": count, "max_rss_mib": rss_kib / 1024}


def _devon(endpoint: str, repo: str, dest: Path, verify: bool) -> int:
    from devon_adapters.clock import SystemClock
    from devon_adapters.huggingface import HuggingFaceSource
    from devon_adapters.vault.store import DiskModelStore
    from devon_core import Devon

    source = HuggingFaceSource(endpoint=endpoint, token=False, verify_checksums=verify)
    devon = Devon(source=source, store=DiskModelStore(dest), clock=SystemClock())
    return len(devon.download(repo).files)


def _snapshot(endpoint: str, repo: str, dest: Path) -> int:
    from huggingface_hub import snapshot_download

    snapshot_download(
        repo, local_dir=dest / "model", cache_dir=dest / "hf-cache", endpoint=endpoint, token=False
    )
    shutil.rmtree(dest / "hf-cache", ignore_errors=True)
    return sum(1 for p in (dest / "model").rglob("*") if p.is_file() and ".cache" not in p.parts)


def _plain(endpoint: str, repo: str, dest: Path) -> int:
    """One connection, files one after the other, 1 MiB reads: the ceiling of a single stream."""
    import http.client
    from urllib.parse import quote, urlsplit

    from huggingface_hub import HfApi

    info = HfApi(endpoint=endpoint, token=False).model_info(repo, files_metadata=True)
    url = urlsplit(endpoint)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
    names = [s.rfilename for s in info.siblings or ()]
    for name in names:
        connection.request("GET", f"/{repo}/resolve/{info.sha}/{quote(name)}")
        response = connection.getresponse()
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            while block := response.read(MIB):
                out.write(block)
    connection.close()
    return len(names)


# ---- parent: start the hub, run every contender, print a table ---------------------


@contextmanager
def running_hub(command: list[str] | None = None) -> Iterator[str]:
    """Start a test hub (by default the large catalogue) and yield the URL it prints."""
    command = command or [sys.executable, "-m", "devon_testhub", "--large"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        match = re.search(r"http://\S+", line)
        if match is None:
            raise RuntimeError(f"the test hub did not start: {line!r}")
        yield match.group()
    finally:
        process.terminate()
        process.wait(timeout=10)


def measure(contender: str, endpoint: str, repo: str, scratch: Path) -> dict[str, Any]:
    dest = Path(tempfile.mkdtemp(prefix=f"{contender}-", dir=scratch))
    try:
        output = subprocess.run(
            [sys.executable, __file__, "--child", contender, endpoint, repo, str(dest)],
            check=True,
            capture_output=True,
            text=True,
            env=dict(os.environ, HF_HUB_DISABLE_PROGRESS_BARS="1", HF_HOME=str(dest / "hf")),
        ).stdout
        return dict(json.loads(output.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=4, metavar=("CONTENDER", "ENDPOINT", "REPO", "DEST"))
    parser.add_argument("--scratch", default=None, help="directory for the downloads")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    args = parser.parse_args()
    if args.child:
        contender, endpoint, repo, dest = args.child
        print(json.dumps(run_child(contender, endpoint, repo, Path(dest))))
        return 0
    rounds = 1 if args.quick else args.rounds
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="devon-bench-"))
    contenders = args.contenders.split(",")
    with running_hub() as endpoint:
        print(f"test hub at {endpoint}; {rounds} round(s); medians\n")
        header = ("repo", "contender", "seconds", "MB/s", "files", "RSS MiB")
        print("{:<18} {:<18} {:>8} {:>8} {:>6} {:>8}".format(*header))
        for repo in (BIG, MANY):
            for contender in contenders:
                runs = [measure(contender, endpoint, repo, scratch) for _ in range(rounds)]
                seconds = statistics.median(r["seconds"] for r in runs)
                size = runs[0]["bytes"]
                rss = max(r["max_rss_mib"] for r in runs)
                print(
                    f"{repo:<18} {contender:<18} {seconds:>8.2f} {size / MIB / seconds:>8.1f} "
                    f"{runs[0]['files']:>6} {rss:>8.1f}",
                    flush=True,
                )
    if not args.scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
