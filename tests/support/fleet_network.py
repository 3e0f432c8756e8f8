"""A fleet's own network for a test: one network namespace per member (the test hub, the
central DEVON, each host), each joined by a veth pair to a bridge of the test's own, whose
root-side address lets the test reach them all. Names hold the pid; everything is torn down
after. Where namespaces, veth pairs or bridges cannot be made, the test is skipped saying why.
Addresses come from 198.18.0.0/15 (set aside for network tests): no traffic leaves the
machine."""

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import attrs
import pytest

from tests.support.network_namespace import inside, ip

__all__ = ["Member", "fleet_network", "inside", "limit_rate", "popen_in"]


@attrs.frozen
class Member:
    namespace: str
    address: str
    link: str
    """The root side of its veth pair (where traffic to it can be shaped with `tc`)."""


@contextmanager
def fleet_network(names: Sequence[str]) -> Iterator[dict[str, Member]]:
    """A namespace per name, all on one bridge; yields name -> member."""
    pid = os.getpid()
    bridge = f"dvfb{pid}"[:15]
    subnet = f"198.19.{pid % 250}"
    made: list[str] = []
    links: list[str] = []
    try:
        try:
            ip("link", "add", bridge, "type", "bridge")
        except OSError as error:
            pytest.skip(f"cannot make a network bridge here: {error}")
        ip("addr", "add", f"{subnet}.1/24", "dev", bridge)
        ip("link", "set", bridge, "up")
        members: dict[str, Member] = {}
        for n, name in enumerate(names):
            namespace = f"devon-fleet-{pid}-{name}"
            outside, inside = f"dvf{pid}{n}a"[:15], f"dvf{pid}{n}b"[:15]
            address = f"{subnet}.{10 + n}"
            try:
                ip("netns", "add", namespace)
            except OSError as error:
                pytest.skip(f"cannot make a network namespace here: {error}")
            made.append(namespace)
            ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            links.append(outside)
            ip("link", "set", inside, "netns", namespace)
            ip("link", "set", outside, "master", bridge)
            ip("link", "set", outside, "up")
            ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
            ip("-n", namespace, "link", "set", inside, "up")
            ip("-n", namespace, "link", "set", "lo", "up")
            members[name] = Member(namespace, address, outside)
        yield members
    finally:
        for link in links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        for namespace in made:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


def popen_in(
    member: Member, argv: Sequence[str], env: Mapping[str, str], **options: object
) -> "subprocess.Popen[str]":
    """`argv` run inside `member`'s namespace, in a process group of its own."""
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        ["ip", "netns", "exec", member.namespace, *argv],
        env=dict(env),
        text=True,
        start_new_session=True,
        **options,
    )


def limit_rate(member: Member, rate: str) -> None:
    """Traffic towards `member` at most `rate` (`tc`'s token bucket on the root side of
    its pair; netem's rate needs a kernel module this machine may lack)."""
    subprocess.run(
        [
            "tc",
            "qdisc",
            "replace",
            "dev",
            member.link,
            "root",
            "tbf",
            "rate",
            rate,
            "burst",
            "64kb",
            "latency",
            "400ms",
        ],
        check=True,
        capture_output=True,
    )
