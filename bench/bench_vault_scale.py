"""How the vault's cost grows with its size: every operation at 1,000, 10,000 and 100,000 models.

    python bench/bench_vault_scale.py [--sizes 1000,10000,100000] [--commits 200] [--dir DIR]
                                      [--postgres postgresql://127.0.0.1:5432]

The vault grows from one size to the next: model directories are laid out on disk and
recorded with `rebuild_index()` (the `devon doctor` path, through the index code). At each
size it then times: opening the vault, `--commits` registrations through `stage` + `commit`
(the path a download takes) and their removal (grouped, so that manifest.json is written
once per batch rather than after each: its cost is measured by bench_manifest.py), `get` of
models spread over the vault, `list`, `status`, `clean` as a dry run selecting every model,
both exports serialised as the API and CLI send them, and the longest short write while
another process opens the vault (what a commit waits for when a command or a server worker
starts). Reads, and the rounds of commits and removals, run `--repeats` times and the
fastest is kept (the machine is shared; the minimum is the figure least disturbed by other
jobs). Time per model is the figure to watch: flat (or logarithmic) means no hidden
quadratic work.

With `--postgres SERVER`, the same run is made with the index in PostgreSQL: a database
`devon_bench_<pid>` is created on SERVER for the run and dropped at the end.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import lay_out_models, machine, markdown_table, register_models, timed
from devon_adapters import DiskModelStore
from devon_adapters.clock import SystemClock
from devon_core import Devon
from devon_core.serialization import export_text, unstructure

Row = tuple[int, str, float, int]  # (vault size, operation, seconds, how many it handled)


def unregister(store: DiskModelStore, prefix: str, count: int) -> None:
    for i in range(count):
        store.remove("huggingface", f"{prefix}/commit-{i}")


OPENER = (
    "import sys; from devon_adapters import DiskModelStore;"
    " DiskModelStore(sys.argv[1], database_url=sys.argv[2] or None).close()"
)


def longest_write_during_opens(
    store: DiskModelStore, root: Path, url: str | None, opens: int
) -> float:
    """The longest `mark_used` (one short write transaction) in this process while another
    process opens the vault `opens` times: what a commit waits for when a CLI command or a
    server worker starts."""
    worst = 0.0
    for _ in range(opens):
        opener = subprocess.Popen([sys.executable, "-c", OPENER, str(root), url or ""])
        while opener.poll() is None:
            mark = partial(store.mark_used, "huggingface", "org0/model-0", datetime.now(UTC))
            worst = max(worst, timed(mark)[0])
            time.sleep(0.002)
    return worst


def measure(
    root: Path, url: str | None, size: int, commits: int, gets: int, repeats: int
) -> list[Row]:
    rows: list[Row] = []

    def record(operation: str, seconds: float, handled: int) -> None:
        rows.append((size, operation, seconds, handled))
        per = seconds / handled * 1e6
        print(f"{size:>7,} {operation:<28} {seconds:9.4f} s  {per:9.2f} µs each", flush=True)

    def best(action: Callable[[], Any]) -> float:
        """The fastest of `repeats` runs: the machine is shared, and the minimum is the
        figure least disturbed by other jobs."""
        return min(timed(action)[0] for _ in range(repeats))

    def opened() -> None:
        DiskModelStore(root, database_url=url).close()

    record("open", best(opened), size)
    store = DiskModelStore(root, database_url=url)
    devon = Devon(store=store, clock=SystemClock(), default_source="huggingface")
    prefix = f"sample{size}"
    registered, removed = [], []

    def register() -> None:
        register_models(store, (f"{prefix}/commit-{i}" for i in range(commits)))

    for _ in range(repeats):
        # Grouped: manifest.json is written once per batch, not after each commit (its cost,
        # the same whatever the index, is the Manifest section's); what is left is the
        # index's and the files'.
        with store.grouped():
            registered.append(timed(register)[0])
        with store.grouped():
            removed.append(timed(lambda: unregister(store, prefix, commits))[0])
    record("register (stage+commit)", min(registered), commits)
    record("remove", min(removed), commits)
    ids = [f"org{i % 100}/model-{i}" for i in random.Random(size).sample(range(size), gets)]
    record("get", best(lambda: [devon.get(model_id) for model_id in ids]), gets)
    assert len(devon.list()) == size
    record("list", best(devon.list), size)
    record("status", best(devon.status), size)
    assert devon.clean(unused=True, days=0, dry_run=True).removed == size
    record(
        "clean (dry run, selects all)",
        best(lambda: devon.clean(unused=True, days=0, dry_run=True)),
        size,
    )
    record("export kitt (text)", best(lambda: export_text(devon.export("kitt"))), size)
    record(
        "export json (serialised)",
        best(lambda: json.dumps(unstructure(devon.export("json")))),
        size,
    )
    record(
        "longest write while another process opens",
        longest_write_during_opens(store, root, url, repeats),
        1,
    )
    store.close()
    return rows


def scratch_database(server: str) -> str:
    """A new database on `server` for this run; its URL."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE devon_bench_{os.getpid()}")
    return f"{server}/devon_bench_{os.getpid()}"


def drop_scratch_database(server: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS devon_bench_{os.getpid()} WITH (FORCE)")


def report(rows: list[Row]) -> str:
    first = {op: seconds / handled for size, op, seconds, handled in rows if size == rows[0][0]}
    table = []
    for size, op, seconds, handled in rows:
        per = seconds / handled
        table.append(
            (f"{size:,}", op, f"{seconds:.4f}", f"{per * 1e6:.2f}", f"{per / first[op]:.2f}")
        )
    header = ("models", "operation", "seconds", "µs per item", f"per item vs {rows[0][0]:,}")
    return markdown_table(header, table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="vault sizes, ascending")
    parser.add_argument("--commits", type=int, default=200, help="registrations timed per size")
    parser.add_argument("--gets", type=int, default=1000, help="gets timed per size")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each read (fastest kept)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary vault goes")
    parser.add_argument(
        "--postgres", default=None, help="a PostgreSQL server URL: the index goes there"
    )
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    print(machine(), flush=True)
    base = Path(tempfile.mkdtemp(prefix="devon-bench-scale-", dir=args.dir))
    root = base / "vault"
    rows: list[Row] = []
    url = scratch_database(args.postgres) if args.postgres else None
    try:
        laid_out = 0
        for size in sizes:
            lay_out_models(root, laid_out, size)
            laid_out = size
            store = DiskModelStore(root, database_url=url)
            seconds, recorded = timed(store.rebuild_index)
            store.close()
            assert recorded == size, recorded
            print(f"{size:>7,} (filled: rebuild_index() in {seconds:.1f} s)", flush=True)
            rows.extend(measure(root, url, size, args.commits, min(args.gets, size), args.repeats))
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if args.postgres:
            drop_scratch_database(args.postgres)
    print()
    print(machine() + (f"; index in PostgreSQL at {args.postgres}" if args.postgres else ""))
    print()
    print(report(rows))


if __name__ == "__main__":
    main()
