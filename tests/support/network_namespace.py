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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest

CLONE_NEWNET = 0x40000000
_COUNTER = itertools.count()
T = TypeVar("T")


def ip(*args: str) -> None:
    """`ip ARGS`; OSError with its message when it fails."""
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
        ip("netns", "add", name)
    except OSError as error:
        pytest.skip(f"cannot make a network namespace here: {error}")
    try:
        try:
            ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            ip("link", "set", inside, "netns", name)
            ip("addr", "add", f"{here}/30", "dev", outside)
            ip("link", "set", outside, "up")
            ip("-n", name, "addr", "add", f"{there}/30", "dev", inside)
            ip("-n", name, "link", "set", inside, "up")
            ip("-n", name, "link", "set", "lo", "up")
        except OSError as error:
            pytest.skip(f"cannot join a network namespace to this one here: {error}")
        yield name, there
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def inside(namespace: str, call: Callable[[], T]) -> T:
    """`call()` in a thread that has joined `namespace`: sockets it makes live there (and
    threads it starts stay there)."""
    done: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
            finally:
                os.close(fd)
            done.append(call())
        except BaseException as error:
            failed.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return done[0]


def listener_in(namespace: str, address: str) -> socket.socket:
    """A listening TCP socket on a free port of `address` inside `namespace` (the socket
    stays there, usable from any thread)."""
    try:
        return inside(namespace, lambda: socket.create_server((address, 0)))
    except OSError as error:
        pytest.skip(f"cannot listen inside a network namespace here: {error}")
