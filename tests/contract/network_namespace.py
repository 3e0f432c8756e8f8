"""A network namespace of the test's own, joined to this one by a veth pair: a host that is
not loopback, on this machine only (addresses from 198.18.0.0/15, the range set aside for
network tests). Its name holds the pid; it is always torn down. When namespaces cannot be
made here, the test is skipped saying why."""

import ctypes
import ipaddress
import itertools
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CLONE_NEWNET = 0x40000000
_COUNTER = itertools.count()


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@contextmanager
def namespace_host() -> Iterator[tuple[str, str]]:
    """(namespace name, its address); this side of the pair has the address before it."""
    pid, n = os.getpid(), next(_COUNTER)
    name = f"devon-test-{pid}-{n}"
    outside, inside = f"dv{pid}{n}a", f"dv{pid}{n}b"  # at most 15 characters
    block = ipaddress.ip_address("198.18.0.0") + ((pid * 8 + n) % 2**15) * 4
    here, there = str(block + 1), str(block + 2)
    try:
        _ip("netns", "add", name)
    except OSError as error:
        pytest.skip(f"cannot make a network namespace here: {error}")
    try:
        try:
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", name)
            _ip("addr", "add", f"{here}/30", "dev", outside)
            _ip("link", "set", outside, "up")
            _ip("-n", name, "addr", "add", f"{there}/30", "dev", inside)
            _ip("-n", name, "link", "set", inside, "up")
            _ip("-n", name, "link", "set", "lo", "up")
        except OSError as error:
            pytest.skip(f"cannot join a network namespace to this one here: {error}")
        yield name, there
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def listener_in(namespace: str, address: str) -> socket.socket:
    """A listening TCP socket on a free port of `address` inside `namespace` (made by a
    thread that joins the namespace; the socket stays there, usable from any thread)."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def make() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
            finally:
                os.close(fd)
            made.append(socket.create_server((address, 0)))
        except BaseException as error:
            failed.append(error)

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    if failed:
        pytest.skip(f"cannot listen inside a network namespace here: {failed[0]}")
    return made[0]
