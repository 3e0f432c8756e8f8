"""What keeping `manifest.json` current costs, at 1,000, 10,000 and 100,000 models.

    python bench/bench_manifest.py [--sizes 1000,10000,100000] [--repeats 3] [--dir DIR]

The vault grows from one size to the next (model directories laid out, recorded with
`rebuild_index()`), then every model is given the metadata a download records (so the
manifest copies it as stored rather than adding formats). At each size it times, fastest of
`--repeats`: one regeneration (read the index, build the text, write, fsync, rename), the
same without the write, a commit and a removal of one model (each regenerates before it
returns), a `mark_used` (which only schedules a regeneration), and reports the file's size.
"""

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from devon_core.commit_metadata import CommitMetadata

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import lay_out_models, machine, markdown_table, timed
from devon_adapters import DiskModelStore
from devon_adapters.manifest import render_manifest

DOWNLOAD_METADATA = {
    "architecture": "llama",
    "format": ["safetensors"],
    "include_patterns": None,
    "license": "apache-2.0",
    "parameter_count": 7.62,
    "quantization": None,
    "revision": "0" * 40,
}


def give_download_metadata(store: DiskModelStore) -> None:
    with sqlite3.connect(store.paths.index) as db:
        db.execute(
            "UPDATE models SET metadata = ?", (json.dumps(DOWNLOAD_METADATA, sort_keys=True),)
        )


def fastest(repeats: int, action: object) -> float:
    assert callable(action)
    return min(timed(action)[0] for _ in range(repeats))


def measure(store: DiskModelStore, size: int, repeats: int) -> list[tuple[object, ...]]:
    writer = store._manifest
    rows: list[tuple[object, ...]] = []
    rows.append(
        (
            size,
            "regenerate (read + build + write + fsync + rename)",
            fastest(repeats, writer.refresh),
        )
    )
    rows.append(
        (
            size,
            "build the text only",
            fastest(repeats, lambda: render_manifest(store.root, store._index)),
        )
    )

    def commit() -> None:
        staging = store.stage("huggingface", "bench/extra")
        (Path(staging.path) / "config.json").write_bytes(b"{}")
        store.commit(
            staging,
            ["config.json"],
            datetime.now(UTC),
            CommitMetadata.as_recorded(DOWNLOAD_METADATA),
        )
        store.remove("huggingface", "bench/extra")

    pair = fastest(repeats, commit)
    rows.append((size, "commit + remove of one model (two regenerations)", pair))
    used = fastest(
        repeats, lambda: store.mark_used("huggingface", "org0/model-0", datetime.now(UTC))
    )
    rows.append((size, "mark_used (regeneration scheduled, not waited for)", used))
    store.flush_manifest()
    rows.append((size, "manifest.json size (MB)", store.manifest_path.stat().st_size / 1e6))
    return rows


def _shown(operation: object, value: object) -> str:
    number = float(str(value))
    return f"{number:.1f} MB" if "MB" in str(operation) else f"{number * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(dir=args.dir, prefix="devon-bench-manifest-"))
    try:
        rows: list[tuple[object, ...]] = []
        laid = 0
        for size in sizes:
            lay_out_models(work / "vault", laid, size)
            laid = size
            store = DiskModelStore(work / "vault")
            store.rebuild_index()
            give_download_metadata(store)
            rows.extend(measure(store, size, args.repeats))
            store.close()
        print(machine())
        table = [(n, op, _shown(op, value)) for n, op, value in rows]
        print(markdown_table(["models", "operation", "fastest"], table))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
