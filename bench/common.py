"""What the benchmark scripts share: the machine's description, timing, percentiles, and
starting DEVON's server and the test hub as child processes on 127.0.0.1."""

import os
import platform
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from devon_core.commit_metadata import CommitMetadata

if TYPE_CHECKING:  # the adapters are imported by the functions that need them
    from devon_adapters import DiskModelStore

T = TypeVar("T")
LOOPBACK = "127.0.0.1"
MIB = 1024 * 1024


def machine() -> str:
    """One line saying where the figures come from; the load average matters here, since the
    machine is shared with other jobs."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, huggingface_hub {version('huggingface_hub')}, "
        f"load average {load} (shared machine)"
    )


def timed(action: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` 0.5 is the median, 0.99 the p99)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def exported_tree(ref: str, tree: Path, *folders: str) -> Path:
    """`folders` of this repository at git ref `ref`, exported into the new directory `tree`
    (to run or count an earlier version beside this one)."""
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(Path(__file__).resolve().parent.parent), "archive", ref, *folders],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def register_models(store: "DiskModelStore", model_ids: Iterable[str]) -> None:
    """Commit each model through `stage` + `commit` with one tiny file: a download's path."""
    now = datetime.now(UTC)
    for model_id in model_ids:
        staging = store.stage("huggingface", model_id)
        (Path(staging.path) / "config.json").write_bytes(b'{"bench": true}\n')
        store.commit(
            staging, ["config.json"], now, CommitMetadata.as_recorded({"revision": "0" * 40})
        )


def lay_out_models(root: Path, start: int, stop: int) -> None:
    """Model directories `huggingface/org<i % 100>/model-<i>` with one 16-byte file each, for
    `rebuild_index()` to record (the fast way to fill a vault; it goes through the index
    code, as `devon doctor` does)."""
    for i in range(start, stop):
        directory = root / "huggingface" / f"org{i % 100}" / f"model-{i}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_bytes(b'{"bench": true}\n')


def fill_vault(root: Path, count: int) -> None:
    """A vault at `root` holding `count` models (laid out, then `rebuild_index()`)."""
    from devon_adapters import DiskModelStore

    lay_out_models(root, 0, count)
    store = DiskModelStore(root)
    try:
        recorded = store.rebuild_index()
    finally:
        store.close()
    if recorded != count:
        raise RuntimeError(f"the vault holds {recorded} models, expected {count}")


def serve_command(port: int, workers: int) -> list[str]:
    """`devon serve` when the CLI is installed, else the function it calls."""
    if find_spec("devon_cli.main") is not None:
        return [sys.executable, "-m", "devon_cli", "serve", "--host", LOOPBACK,
                "--port", str(port), "--workers", str(workers)]  # fmt: skip
    code = f"from devon_http.serve import serve; serve({LOOPBACK!r}, {port}, {workers})"
    return [sys.executable, "-c", code]


@contextmanager
def devon_server(
    storage: Path,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    command: Callable[[int], list[str]] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`devon serve` (or `command(port)`) on a free loopback port over the vault at
    `storage`; yields its base URL and process once `/health` answers."""
    port = free_port()
    environment = {
        **os.environ,
        "DEVON_STORAGE_PATH": str(storage),
        "DEVON_API_KEY": "",
        "XDG_CONFIG_HOME": str(storage.parent / "config"),  # no user config file
        "HF_HOME": str(storage.parent / "hf-home"),
        **(env or {}),
    }
    process = subprocess.Popen(
        command(port) if command else serve_command(port, workers),
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_for_health(url, process, "devon serve", timeout)
        yield url, process
    finally:
        stop_process(process, 15)


def wait_for_health(url: str, process: "subprocess.Popen[Any]", what: str, timeout: float) -> None:
    """Return once `url`'s `/health` answers 200; RuntimeError if `process` (called `what`)
    exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer within {timeout} s") from None
            time.sleep(0.2)


def stop_process(process: "subprocess.Popen[Any]", timeout: float) -> None:
    """SIGTERM, then SIGKILL if `process` has not ended within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def process_tree_peak_rss_mib(pid: int) -> float:
    """Peak RSS (VmHWM) of a process and its children still alive, in MiB (Linux)."""
    total = 0
    for candidate in [pid, *children_of(pid)]:
        try:
            status = Path(f"/proc/{candidate}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            total += int(match.group(1))
    return total / 1024


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        for task in tasks:
            text = (task / "children").read_text().split()
            found.extend(int(child) for child in text)
    except OSError:
        return found
    return found + [grandchild for child in found for grandchild in children_of(child)]


def json_request(url: str, body: Any = None, timeout: float = 600) -> Any:
    """One HTTP call to DEVON's API (POST with a JSON body when `body` is given)."""
    import json

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (our own loopback server)
        url, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
        return json.loads(answer.read())
