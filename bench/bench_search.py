"""Search against the test hub with added latency: time and hub requests for `limit=20`.

    python bench/bench_search.py [--latency-ms 50] [--limit 20] [--rounds 3]

Runs the test hub in this process (default catalogue: 68 repos) with `--latency-ms` added
to every request, and searches through `Devon.search` with a fresh `HuggingFaceSource`
each round (a cold cache: what a first search costs), then once more on a warm one. The
hub's request log says how many list pages and model-detail requests each search made,
beside the fewest that could answer it: one list page per `page` of candidates and one
detail request per result returned (sizes are only in the details). The baseline is one
detail request's round trip, timed in the same run.
"""

import argparse
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, markdown_table, timed
from devon_adapters.clock import SystemClock
from devon_adapters.huggingface import HuggingFaceSource
from devon_adapters.vault.store import DiskModelStore
from devon_core import Devon, SearchFilters
from devon_testhub import TestHub, run_test_hub

# (label, filters)
CASES: tuple[tuple[str, dict[str, str]], ...] = (
    ("no filter", {}),
    ("size <=100kb", {"size": "<=100kb"}),
    ("size >100kb", {"size": ">100kb"}),
    ("size >300kb (few match)", {"size": ">300kb"}),
    ("params <=8b", {"params": "<=8b"}),
    ("params <=8b, size <=100kb", {"params": "<=8b", "size": "<=100kb"}),
)


def requests_made(hub: TestHub) -> tuple[int, int]:
    """(list pages, detail requests) since the last reset."""
    records = hub.stats.requests("/api/models")
    pages = sum(1 for r in records if r.path.rstrip("/") == "/api/models")
    return pages, len(records) - pages


def devon_for(hub: TestHub, store: DiskModelStore) -> Devon:
    source = HuggingFaceSource(endpoint=hub.url, token=False)
    return Devon(source=source, store=store, clock=SystemClock())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="cold searches per case")
    parser.add_argument("--dir", type=Path, default=None, help="where the empty vault goes")
    args = parser.parse_args()
    rows = []
    with (
        tempfile.TemporaryDirectory(dir=args.dir) as scratch,
        run_test_hub(latency_ms=args.latency_ms) as hub,
    ):
        store = DiskModelStore(Path(scratch) / "vault")
        probe = devon_for(hub, store)
        round_trip = statistics.median(
            timed(lambda: probe.source().info("acme/shardy-7b"))[0] for _ in range(5)
        )
        print(machine(), flush=True)
        print(f"one detail request: {round_trip * 1000:.1f} ms", flush=True)
        for label, typed in CASES:
            filters = SearchFilters.parse(**typed)
            seconds = []
            for _ in range(args.rounds):
                devon = devon_for(hub, store)
                hub.stats.reset()
                elapsed, result = timed(partial(devon.search, limit=args.limit, filters=filters))
                seconds.append(elapsed)
                pages, details = requests_made(hub)
            hub.stats.reset()
            warm, _ = timed(partial(devon.search, limit=args.limit, filters=filters))
            warm_pages, warm_details = requests_made(hub)
            cold = statistics.median(seconds)
            rows.append(
                (
                    label,
                    result.count,
                    f"{cold:.2f}",
                    f"{cold / round_trip:.1f}",
                    pages,
                    details,
                    f"{details / max(result.count, 1):.2f}",
                    f"{warm:.2f}",
                    f"{warm_pages} + {warm_details}",
                )
            )
            print(rows[-1], flush=True)
            time.sleep(0.1)
        store.close()
    print()
    print(f"limit={args.limit}, {args.latency_ms:g} ms added per hub request, cold = median of "
          f"{args.rounds} fresh sources")  # fmt: skip
    print(machine())
    print()
    header = (
        "filters", "results", "cold s", "cold / round trip", "list pages", "detail requests",
        "details per result", "warm s", "warm pages + details",
    )  # fmt: skip
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
