"""A file answer's body is read in blocks of up to READ_BLOCK bytes, straight from a plain
connection's socket where the answer allows it (ADR 0298): whole and in order whatever h11
read together with the headers, its bytes kept when the body ends early; other answers go
through httpx2 as before. A real server on loopback writes exactly what each test says."""

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx2
import pytest

from devon_adapters.transfer import body_blocks
from devon_adapters.transfer.body_blocks import FULL_READ, READ_BLOCK, STRAIGHT_AFTER, BodyBlocks
from devon_adapters.transfer.live_connections import Connection

MIB = 1024 * 1024
BODY = bytes(range(256)) * (3 * MIB // 256) + b"tail"

Answer = Callable[[socket.socket], None]


@contextmanager
def one_answer(answer: Answer) -> Iterator[tuple[str, list[int]]]:
    """A server on loopback that answers each request with `answer`, one connection at a
    time, as many requests on one as the client sends; its URL and a list that counts the
    connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            with conn, contextlib.suppress(OSError):
                while True:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        got = conn.recv(65536)
                        if not got:
                            break
                        request += got
                    if b"\r\n\r\n" not in request:
                        break  # the client closed the connection
                    answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/file", accepted
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        listener.close()
        thread.join(5)


@pytest.fixture
def straight_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first read that finds 64 KiB waiting is enough (on loopback, whether eight in a
    row do depends on how the two threads are scheduled)."""
    monkeypatch.setattr(body_blocks, "STRAIGHT_AFTER", 1)


def head(length: int, *extra: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {length}", *extra, "", ""]
    return "\r\n".join(lines).encode()


def blocks_of(url: str) -> list[bytes]:
    """The body of a GET of `url`, as the blocks it was handed over in."""
    with httpx2.Client() as client, client.stream("GET", url) as response:
        time.sleep(0.1)  # the socket fills up: the first reads find 64 KiB waiting
        connection = Connection(response, time.monotonic())
        return [bytes(b) for b in BodyBlocks(response, connection, time.monotonic, 5.0, 0.05)]


@pytest.mark.usefixtures("straight_at_once")
def test_a_fast_body_arrives_whole_then_in_blocks_larger_than_httpx2s() -> None:
    def answer(conn: socket.socket) -> None:
        conn.sendall(head(len(BODY)) + BODY[:1000])  # h11 reads these with the headers
        conn.sendall(BODY[1000:])

    with one_answer(answer) as (url, _):
        blocks = blocks_of(url)

    assert b"".join(blocks) == BODY
    assert max(len(b) for b in blocks) == READ_BLOCK  # straight from the socket
    assert len(blocks[0]) <= FULL_READ  # through httpx2 first


def test_a_slow_body_is_read_through_httpx2_on_a_connection_kept_alive() -> None:
    small = BODY[: 2 * STRAIGHT_AFTER * FULL_READ]

    def answer(conn: socket.socket) -> None:
        conn.sendall(head(len(small)))
        for start in range(0, len(small), 16 * 1024):
            time.sleep(0.002)  # each read finds a part: the reads are not the limit
            conn.sendall(small[start : start + 16 * 1024])

    with one_answer(answer) as (url, accepted), httpx2.Client() as client:
        for _ in range(2):
            with client.stream("GET", url) as response:
                connection = Connection(response, time.monotonic())
                blocks, arrived = BodyBlocks(response, connection, time.monotonic, 5.0, 0.05), b""
                for block in blocks:
                    arrived += block
                    if len(arrived) == len(small):
                        break  # as a range's writer does once its bytes are whole
                blocks.close()
                assert arrived == small
                assert not blocks.straight

    assert len(accepted) == 1  # the second request went on the first one's connection


@pytest.mark.usefixtures("straight_at_once")
def test_a_body_that_ends_early_hands_over_what_arrived_then_fails_as_httpx2_would() -> None:
    def answer(conn: socket.socket) -> None:
        conn.sendall(head(len(BODY)) + BODY[: 2 * MIB])
        conn.shutdown(socket.SHUT_WR)  # and no more

    arrived = bytearray()

    def read_all(response: httpx2.Response) -> None:
        time.sleep(0.1)  # the socket fills up: the first reads find 64 KiB waiting
        connection = Connection(response, time.monotonic())
        for block in BodyBlocks(response, connection, time.monotonic, 5.0, 0.05):
            arrived.extend(block)

    with (
        one_answer(answer) as (url, _),
        httpx2.Client() as client,
        client.stream("GET", url) as response,
        pytest.raises(httpx2.RemoteProtocolError),
    ):
        read_all(response)

    assert bytes(arrived) == BODY[: 2 * MIB]


@pytest.mark.usefixtures("straight_at_once")
def test_bytes_before_a_stall_are_handed_over_while_the_connection_stays_silent() -> None:
    stall_ended, stall_ran_out = threading.Event(), threading.Event()

    def answer(conn: socket.socket) -> None:
        conn.sendall(head(len(BODY)) + BODY[: 2 * MIB])  # fast: read straight
        time.sleep(0.1)
        conn.sendall(BODY[2 * MIB : 2 * MIB + 20000])
        time.sleep(0.02)  # a block begun right before the stall
        conn.sendall(BODY[2 * MIB + 20000 : 2 * MIB + 40000])
        if not stall_ended.wait(10):  # then nothing, until the test is done
            stall_ran_out.set()

    arrived = 0
    with one_answer(answer) as (url, _), httpx2.Client() as client:
        with client.stream("GET", url) as response:
            time.sleep(0.1)  # the socket fills up: the first reads find 64 KiB waiting
            connection = Connection(response, time.monotonic())
            for block in BodyBlocks(response, connection, time.monotonic, 30.0, 0.05):
                arrived += len(block)
                if arrived >= 2 * MIB + 40000:
                    break
        handed_over_during_the_stall = not stall_ran_out.is_set()
        stall_ended.set()

    assert arrived == 2 * MIB + 40000
    assert handed_over_during_the_stall


@pytest.mark.usefixtures("straight_at_once")
def test_a_body_read_straight_from_the_socket_closes_its_connection_after_it() -> None:
    def answer(conn: socket.socket) -> None:
        conn.sendall(head(len(BODY)) + BODY)

    with one_answer(answer) as (url, accepted), httpx2.Client() as client:
        for _ in range(2):
            with client.stream("GET", url) as response:
                time.sleep(0.1)  # the socket fills up: the first reads find 64 KiB waiting
                connection = Connection(response, time.monotonic())
                blocks = BodyBlocks(response, connection, time.monotonic, 5.0, 0.05)
                body = b"".join(bytes(b) for b in blocks)  # a block is valid until the next
                assert blocks.straight
            assert body == BODY

    assert len(accepted) == 2  # h11 never saw the body: the connection is not reused


@pytest.mark.parametrize(
    "headers",
    [
        ("Transfer-Encoding: chunked",),
        ("Content-Encoding: gzip",),
    ],
)
def test_an_answer_without_a_plain_length_is_read_through_httpx2(headers: tuple[str]) -> None:
    def answer(conn: socket.socket) -> None:
        if headers[0].startswith("Transfer"):
            chunked = b"".join(
                f"{len(p):x}\r\n".encode() + p + b"\r\n"
                for p in (BODY[i : i + MIB] for i in range(0, len(BODY), MIB))
            )
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + headers[0].encode() + b"\r\n\r\n")
            conn.sendall(chunked + b"0\r\n\r\n")
        else:
            packed = gzip.compress(BODY)
            conn.sendall(head(len(packed), *headers) + packed)

    with one_answer(answer) as (url, _):
        blocks = blocks_of(url)

    assert b"".join(blocks) == BODY  # unchunked and decoded: read as httpx2 reads it
