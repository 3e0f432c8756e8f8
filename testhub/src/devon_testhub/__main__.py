"""`python -m devon_testhub`: serve the test hub on loopback until killed."""

from __future__ import annotations

import argparse
import contextlib
import sys

from devon_testhub.catalogue import Catalogue
from devon_testhub.server import DEFAULT_TOKEN, LOOPBACK_HOSTS, TestHub

GIB = 1024**3


_RATE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1024,
    "mb": 1024**2,
    "gb": 1024**3,
    "kbit": 1000 / 8,
    "mbit": 1000**2 / 8,
    "gbit": 1000**3 / 8,
}


def _rate(text: str) -> int:
    """Bytes per second from `5242880`, `5mb` (powers of 1024) or `40mbit` (powers of 1000)."""
    cleaned = text.strip().lower().removesuffix("/s")
    number = cleaned.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = cleaned[len(number) :]
    try:
        value = float(number) * _RATE_UNITS[unit]
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rate: use bytes per second (5242880), 5mb, or 40mbit"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a rate cannot be negative")
    return round(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devon_testhub",
        description="Serve a Hugging Face Hub look-alike on 127.0.0.1.",
        epilog="example: python -m devon_testhub --port 8099 --latency-ms 50 "
        "--connection-rate 40mbit",
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
        "--connection-rate",
        type=_rate,
        default=0,
        metavar="RATE",
        help="most body bytes per second on each connection, e.g. 5mb or 40mbit "
        "(default: no limit)",
    )
    parser.add_argument(
        "--connection-rates",
        type=lambda text: [_rate(part) for part in text.split(",")],
        default=[],
        metavar="RATE,RATE,...",
        help="a limit per TCP connection, in turn (e.g. 200kb,4mb,4mb,4mb,4mb,4mb,4mb,4mb: "
        "one connection in eight slow; 0: none); wins over --connection-rate",
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
    try:
        hub = TestHub(
            catalogue,
            host=args.host,
            port=args.port,
            tokens=args.token or [DEFAULT_TOKEN],
            latency_ms=args.latency_ms,
            connection_rate=args.connection_rate,
        )
    except OSError as error:  # the port is taken, or the address cannot be bound
        reason = error.strerror or str(error)
        print(f"error: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 1
    hub.faults.set_bandwidth(args.bandwidth)
    if args.connection_rates:
        hub.faults.vary_connection_rates(args.connection_rates)
    print(f"serving on {hub.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        hub.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
