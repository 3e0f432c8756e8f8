"""Vault benchmark: registration speed, and reads at 100,000 models.

    python bench/bench_vault.py [--models 10000] [--total 100000] [--dir /tmp/somewhere]

1. Registers `--models` models one by one through `stage` + `commit` (one 16-byte file each),
   exactly as downloads do: journal, rename into place, one transaction per commit.
2. Adds model directories on disk up to `--total` and records them with `rebuild_index()`
   (the `devon doctor` path: one scan, one transaction), then times the reads a user does
   at that size: open, list, status, space, export (kitt and json, serialised).
Prints a Markdown table for docs/benchmarks.md.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import register_models
from devon_adapters import DiskModelStore
from devon_adapters.clock import SystemClock
from devon_core import Devon
from devon_core.serialization import export_text, unstructure

Row = tuple[str, float, str]


def timed(label: str, action: Callable[[], Any], rows: list[Row], note: str = "") -> Any:
    started = time.perf_counter()
    result = action()
    rows.append((label, time.perf_counter() - started, note))
    print(f"{label:<48} {rows[-1][1]:8.3f} s  {note}", flush=True)
    return result


def lay_out_on_disk(root: Path, start: int, total: int) -> None:
    for i in range(start, total):
        directory = root / "huggingface" / f"org{i % 100}" / f"model-{i}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_bytes(b'{"bench": true}\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="devon-bench-", dir=args.dir))
    root = base / "vault"
    rows: list[Row] = []
    try:
        store = DiskModelStore(root)
        timed(
            f"register {args.models:,} models (stage+commit)",
            lambda: register_models(store, (f"org{i % 100}/model-{i}" for i in range(args.models))),
            rows,
        )
        per = rows[-1][1] / args.models * 1000
        rows[-1] = (*rows[-1][:2], f"{per:.2f} ms per model")
        lay_out_on_disk(root, args.models, args.total)
        count = timed(f"rebuild_index() to {args.total:,} models", store.rebuild_index, rows)
        assert count == args.total, count
        store.close()
        store = timed(
            f"open the vault at {args.total:,} models", lambda: DiskModelStore(root), rows
        )
        devon = Devon(store=store, clock=SystemClock(), default_source="huggingface")
        models = timed("list()", devon.list, rows, f"{args.total:,} models")
        assert len(models) == args.total
        timed("status()", devon.status, rows)
        timed("space()", store.space, rows)
        timed("export kitt (text)", lambda: export_text(devon.export("kitt")), rows)
        timed(
            "export json (serialised)",
            lambda: json.dumps(unstructure(devon.export("json"))),
            rows,
        )
        timed("get() of one model", lambda: devon.get("org7/model-4207"), rows)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print()
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}"
    )
    print()
    print("| Operation | Time | Note |")
    print("|---|---:|---|")
    for label, seconds, note in rows:
        print(f"| {label} | {seconds:.3f} s | {note} |")


if __name__ == "__main__":
    main()
