"""What keeping `manifest.json` current costs, and importing a DEVON 1.x vault, at 1,000,
10,000 and 100,000 models: this code beside a git ref's (`--before`), in the same run.

    python bench/bench_manifest.py [--sizes 1000,10000,100000] [--import-sizes 1000,10000]
                                   [--repeats 3] [--before main] [--dir DIR]

For each vault size, the model folders are laid out once (`huggingface/org<i % 100>/model-<i>`,
one 16-byte file each); each version then, in a process of its own with its own `src` on
`PYTHONPATH`, opens the vault with no index (the index is rebuilt from the folders), gives
every model the metadata a download records, writes the manifest, and times, fastest of
`--repeats`:
- a commit of one model and its removal, each with what the manifest took of it (the
  writer's `last_duration`, in both versions);
- a `mark_used` and the delayed manifest write it schedules (`flush_manifest`);
- opening the vault again with nothing changed, and `rebuild_index()` finding the same rows,
  and whether either rewrote `manifest.json`;
- the whole manifest text rendered from the index (`render_manifest`, in both versions).
For each `--import-sizes` size, a DEVON 1.0/1.1 vault (`index.json` beside `models/`, one
16-byte file a model, times and metadata recorded) is imported into an empty vault by each
version (`import_legacy_vault`, copying), and, as the floor the disk sets, the same folders
made and files copied by a bare loop (`mkdir`, `open`, `sendfile`, `utime`, `rename`).

Nothing laid out or imported is deleted before the run ends: each import and the bare loop
write into a folder of their own. On an ext4 disk without a journal (this project's), a
file or folder made within minutes of many deletions costs the kernel a scan past every
inode freed meanwhile (`recently_deleted` in its inode allocator): deleting one version's
10,000 imported models made the next version's import, or the loop, two to five times
slower, whichever came second (docs/benchmarks.md#manifest).
"""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import exported_tree, lay_out_models, machine, markdown_table, timed

DOWNLOAD_METADATA = {
    "architecture": "llama",
    "format": ["safetensors"],
    "include_patterns": None,
    "license": "apache-2.0",
    "parameter_count": 7.62,
    "quantization": None,
    "revision": "0" * 40,
}


# -- what runs inside each version's process ----------------------------------------------


def fastest(repeats: int, action: Any) -> float:
    return min(timed(action)[0] for _ in range(repeats))


def measure_vault(root: Path, repeats: int) -> dict[str, Any]:
    from devon_adapters import DiskModelStore
    from devon_adapters.vault.manifest import render_manifest
    from devon_core.commit_metadata import CommitMetadata

    shutil.rmtree(root / ".devon", ignore_errors=True)
    (root / "manifest.json").unlink(missing_ok=True)
    for stamp in root.glob(".devon/manifest-stamp*"):
        stamp.unlink()
    store = DiskModelStore(root)  # no index: rebuilt from the folders
    with sqlite3.connect(store.paths.index) as db:
        db.execute(
            "UPDATE models SET metadata = ?", (json.dumps(DOWNLOAD_METADATA, sort_keys=True),)
        )
    store.rebuild_index()  # the manifest written with that metadata
    manifest = store.manifest_path
    figures: dict[str, Any] = {"manifest MB": manifest.stat().st_size / 1e6}
    commits, removals, commit_parts, removal_parts = [], [], [], []
    metadata = CommitMetadata.as_recorded(DOWNLOAD_METADATA)
    for _ in range(repeats):
        staging = store.stage("huggingface", "bench/extra")
        (Path(staging.path) / "config.json").write_bytes(b"{}")
        started = time.perf_counter()
        store.commit(staging, ["config.json"], datetime.now(UTC), metadata)
        commits.append(time.perf_counter() - started)
        commit_parts.append(store._manifest.last_duration)
        removals.append(timed(lambda: store.remove("huggingface", "bench/extra"))[0])
        removal_parts.append(store._manifest.last_duration)
    figures["commit of one model"] = min(commits)
    figures["the manifest's part of that commit"] = min(commit_parts)
    figures["removal of one model"] = min(removals)
    figures["the manifest's part of that removal"] = min(removal_parts)

    def used() -> None:
        store.mark_used("huggingface", "org0/model-0", datetime.now(UTC))
        store.flush_manifest()

    figures["mark_used + its manifest write"] = fastest(repeats, used)
    store.close()
    before = manifest.stat()
    opened, again = timed(lambda: DiskModelStore(root))
    after = manifest.stat()
    figures["open, nothing changed"] = opened
    rewritten = (before.st_ino, before.st_mtime_ns) != (after.st_ino, after.st_mtime_ns)
    figures["manifest rewritten by that open"] = "yes" if rewritten else "no"
    before = manifest.stat()
    figures["rebuild_index(), nothing changed"] = timed(again.rebuild_index)[0]
    after = manifest.stat()
    rewritten = (before.st_ino, before.st_mtime_ns) != (after.st_ino, after.st_mtime_ns)
    figures["manifest rewritten by that rebuild"] = "yes" if rewritten else "no"
    figures["render the whole text"] = fastest(
        repeats, lambda: render_manifest(again.root, again.index)
    )
    again.close()
    return figures


def measure_import(legacy: Path, vault: Path) -> dict[str, Any]:
    """One import of `legacy` into a new vault at `vault`, left there (see the docstring)."""
    from devon_adapters import DiskModelStore, import_legacy_vault

    store = DiskModelStore(vault)
    seconds, report = timed(lambda: import_legacy_vault(store, legacy))
    count = len(store.list())
    store.close()
    assert count == len(report.imported), (count, len(report.imported))
    return {"import": seconds, "imported": count}


def worker(args: argparse.Namespace) -> None:
    if args.vault:
        print(json.dumps(measure_vault(Path(args.vault), args.repeats)))
    else:
        print(json.dumps(measure_import(Path(args.legacy), Path(args.work))))


# -- the run -------------------------------------------------------------------------------


def lay_out_legacy(root: Path, count: int) -> Path:
    """A DEVON 1.0/1.1 vault of `count` models: `index.json` beside `models/`."""
    index = {}
    for i in range(count):
        model_id = f"org{i % 100}/model-{i}"
        directory = root / "models" / "huggingface" / model_id
        directory.mkdir(parents=True)
        (directory / "config.json").write_bytes(b'{"bench": true}\n')
        index[f"huggingface::{model_id}"] = {
            "source": "huggingface",
            "model_id": model_id,
            "path": str(directory),
            "files": ["config.json"],
            "size_bytes": 16,
            "downloaded_at": "2025-01-02T03:04:05.123456",
            "last_used": "2025-02-03T04:05:06.654321" if i % 2 else None,
            "metadata": {"format": ["safetensors"], "parameter_count": 7.62},
        }
    (root / "index.json").write_text(json.dumps(index))
    return root


def floor_of_import(legacy: Path, target: Path) -> float:
    """The same folders made, files copied and folders renamed into place by a bare loop,
    in `target` (left there)."""
    started = time.perf_counter()
    staging = target / "staging"
    for directory in sorted((legacy / "models" / "huggingface").glob("*/*")):
        made = staging / directory.parent.name / directory.name
        os.makedirs(made, exist_ok=True)
        source = os.open(directory / "config.json", os.O_RDONLY)
        stat = os.fstat(source)
        copy = os.open(made / "config.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.sendfile(copy, source, None, stat.st_size)
        os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.close(copy)
        os.close(source)
        placed = target / "vault" / directory.parent.name
        placed.mkdir(parents=True, exist_ok=True)
        os.rename(made, placed / directory.name)
    return time.perf_counter() - started


def run_version(src: Path, *options: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{Path(__file__).resolve().parent.parent}"}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", *options],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"the worker for {src} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def shown(value: Any, operation: str = "") -> str:
    if "MB" in operation:
        return f"{value:.1f} MB"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--import-sizes", default="1000,10000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", default="main", help="git ref of the 'before' code; '' = none")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--vault", help=argparse.SUPPRESS)
    parser.add_argument("--legacy", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    work = Path(tempfile.mkdtemp(dir=args.dir, prefix="devon-bench-manifest-"))
    here = Path(__file__).resolve().parent.parent / "src"
    versions = {"after": here}
    if args.before:
        versions = {
            "before": exported_tree(args.before, work / "before", "src") / "src",
            **versions,
        }
    print(machine(), flush=True)
    vault_rows: dict[int, dict[str, dict[str, Any]]] = {}
    import_rows: dict[int, dict[str, Any]] = {}
    try:
        laid = 0
        for size in [int(s) for s in args.sizes.split(",") if s]:
            lay_out_models(work / "vault", laid, size)
            laid = size
            vault_rows[size] = {
                name: run_version(
                    src, "--vault", str(work / "vault"), "--repeats", str(args.repeats)
                )
                for name, src in versions.items()
            }
            print(size, vault_rows[size], flush=True)
        for size in [int(s) for s in args.import_sizes.split(",") if s]:
            legacy = lay_out_legacy(work / f"legacy-{size}", size)
            row: dict[str, Any] = {
                name: run_version(
                    src, "--legacy", str(legacy), "--work", str(work / f"imported-{size}-{name}")
                )["import"]
                for name, src in versions.items()
            }
            row["floor"] = floor_of_import(legacy, work / f"floor-{size}")
            import_rows[size] = row
            print(size, row, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(machine())
    names = list(versions)
    table = []
    for size, by_version in vault_rows.items():
        for operation in by_version["after"]:
            cells = [shown(by_version[name][operation], operation) for name in names]
            table.append((f"{size:,}", operation, *cells))
    print(markdown_table(["models", "operation", *names], table))
    print()
    imports = [
        (f"{size:,}", *(shown(row[n]) for n in names), shown(row["floor"]))
        for size, row in import_rows.items()
    ]
    print(markdown_table(["1.x models imported", *names, "floor (bare loop)"], imports))


if __name__ == "__main__":
    main()
