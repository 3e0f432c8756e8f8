"""`python -m devon_testhub`: serve the test hub on loopback until killed."""

from __future__ import annotations

import argparse
import contextlib
import sys

from devon_testhub.catalogue import Catalogue
from devon_testhub.server import DEFAULT_TOKEN, LOOPBACK_HOSTS, TestHub

GIB = 1024**3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devon_testhub",
        description="Serve a Hugging Face Hub look-alike on 127.0.0.1.",
        epilog="example: python -m devon_testhub --port 8099 --latency-ms 50",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay added to each request")
    parser.add_argument(
        "--bandwidth",
        type=float,
        default=0,
        metavar="BYTES_PER_S",
        help="file bytes per second for the whole hub (0: no limit)",
    )
    parser.add_argument(
        "--large",
        action="store_true",
        help="add bench/big-2gb (4 x 512 MiB shards) and bench/many-small (1000 x 4 KiB)",
    )
    parser.add_argument(
        "--token", action="append", help=f"accepted token (default {DEFAULT_TOKEN})"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK_HOSTS:
        parser.error(f"--host must be a loopback address ({', '.join(LOOPBACK_HOSTS)})")
    catalogue = Catalogue.default()
    if args.large:
        catalogue = catalogue.with_large_repo("bench/big-2gb", 2 * GIB, 4).with_many_files_repo()
        print("computing sha256 of the large files...", file=sys.stderr, flush=True)
        catalogue.warm()
    hub = TestHub(
        catalogue,
        host=args.host,
        port=args.port,
        tokens=args.token or [DEFAULT_TOKEN],
        latency_ms=args.latency_ms,
    )
    hub.faults.set_bandwidth(args.bandwidth)
    print(f"serving on {hub.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        hub.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
