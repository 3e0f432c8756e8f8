"""`serve`: run the HTTP API under uvicorn (what `devon serve` calls)."""

import contextlib
import errno
import ipaddress
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import uvicorn
from uvicorn.supervisors import Multiprocess

from devon_app import Settings, build_devon
from devon_app.bootstrap import run_jobs_in_child
from devon_http.asgi import create_app_from_settings, settle_garbage_collector
from devon_http.connections import LimitedProtocol, set_limits
from devon_http.guard import ANY, LOOPBACK_HOSTS
from devon_http.request_log import configure_logging

log = logging.getLogger("devon.http")

APP_FACTORY = "devon_http.asgi:create_default_app"
START_TIMEOUT_S = 10.0
SHUTDOWN_GRACE_S = 3.0
"""On SIGTERM or Ctrl-C, the server waits this long for answers still being sent (a request
waiting on a job or an event stream answers and ends at once: `server_stopping`); requests
still running then are cancelled (a call waiting on a source is stopped, ADR 0201), so the
server always stops in seconds."""


def serve(
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    settings: Settings | None = None,
) -> None:
    """Serve the API on `host:port` until interrupted, with `workers` processes; each left
    out comes from `settings` (`DEVON_HOST`, `DEVON_PORT`, `DEVON_WORKERS`).

    `settings` default to `Settings.from_env()`. Several workers each build their app from
    the environment, so given settings are handed to them through the DEVON_* variables."""
    settings = Settings.from_env() if settings is None else settings
    http = settings.http
    host = http.host if host is None else host
    port = http.port if port is None else port
    workers = http.workers if workers is None else workers
    configure_logging()
    devon = build_devon(settings)  # the vault is opened (and checked) before anything else
    listener = listen_on(host, port)  # a busy port is one clear error, before any startup
    log.info("vault at %s", devon.storage_path)
    for name, endpoint in devon.source_endpoints().items():
        log.info("source %s at %s", name, endpoint or "(no endpoint)")
    for warning in (
        exposure_warning(host, http.api_key),
        host_warning(host, http.allowed_hosts),
    ):
        if warning:
            log.warning(warning)
    settings = bound_settings(settings, host)
    set_limits(http.header_timeout_s, http.max_connections)
    limits: dict[str, Any] = {
        "http": LimitedProtocol,
        "timeout_keep_alive": http.keepalive_timeout_s,
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_S,
        "access_log": False,
        "log_level": "info",
    }
    log.info("serving on http://%s:%d (Ctrl-C to stop)", _url_host(host), port)
    if workers > 1:
        os.environ.update(settings.as_env())
        serve_app(APP_FACTORY, host, port, workers, listener, **limits)
    else:
        app = create_app_from_settings(settings, run_jobs_in_child(devon, settings))
        settle_garbage_collector()
        config = uvicorn.Config(app, host=host, port=port, **limits)
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run(sockets=[listener])


def bound_settings(settings: Settings, host: str) -> Settings:
    """`settings` with the Host allowlist a server on `host` uses spelled out: the loopback
    names on loopback, any name elsewhere, unless DEVON_ALLOWED_HOSTS lists some."""
    if settings.http.allowed_hosts:
        return settings
    hosts = tuple(sorted(LOOPBACK_HOSTS)) if is_loopback(host) else (ANY,)
    return attrs.evolve(settings, allowed_hosts=hosts)


def host_warning(host: str, allowed_hosts: tuple[str, ...]) -> str | None:
    """What to tell the operator when a server beyond loopback accepts any `Host`."""
    if allowed_hosts or is_loopback(host):
        return None
    return (
        f"Serving on {host} without DEVON_ALLOWED_HOSTS: requests naming any host are "
        "answered, which lets a DNS-rebinding page in a browser on this network reach the "
        "API. Set DEVON_ALLOWED_HOSTS to the names clients use (e.g. 'devon.lan 10.0.0.5')."
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class CannotListen(OSError):
    """The address is taken or cannot be bound; `str()` says which and why."""


def listen_on(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host:port` (IPPROTO_TCP, see `tcp_listener`), inheritable by
    worker processes; CannotListen when the port is busy or the address unusable."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise CannotListen(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        hint = " (another server is using it: pick another --port)" if _busy(error) else ""
        raise CannotListen(f"cannot listen on {host}:{port}: {reason}{hint}") from None
    sock.set_inheritable(True)
    return sock


def _busy(error: OSError) -> bool:
    return error.errno == errno.EADDRINUSE


def serve_app(
    factory: str,
    host: str,
    port: int,
    workers: int,
    listener: socket.socket | None = None,
    **options: Any,
) -> None:
    """Serve the app the factory at `module:function` builds, in each of `workers` processes,
    on `listener` (bound to `host:port` here when None), as `serve` does (benchmarks use it
    to serve other apps on the same stack). `options` go to `uvicorn.Config`."""
    settings: dict[str, Any] = {"access_log": False, "log_level": "info", **options}
    config = uvicorn.Config(
        factory, factory=True, workers=workers, host=host, port=port, **settings
    )
    sock = tcp_listener(config.bind_socket()) if listener is None else listener
    with contextlib.suppress(KeyboardInterrupt):
        if workers == 1:
            uvicorn.Server(config).run(sockets=[sock])
        else:
            # What `uvicorn.run` does for several workers, with the listener fixed (ADR 0050).
            Multiprocess(config, sockets=[sock]).run()


def tcp_listener(sock: socket.socket) -> socket.socket:
    """`sock` as the TCP socket it is (`proto` IPPROTO_TCP), so that the connections it
    accepts get TCP_NODELAY.

    uvicorn binds the socket its workers share with `proto` 0; accepted connections inherit
    it and asyncio sets TCP_NODELAY only when `proto` is IPPROTO_TCP, so every keep-alive
    response after the first waited ~40 ms for the client's delayed ACK (uvicorn #3149)."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto == socket.IPPROTO_TCP:
        return sock
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.set_inheritable(True)
    return tcp


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """What to tell the operator when the API is open to other machines, else None."""
    if api_key or is_loopback(host):
        return None
    return (
        f"Serving on {host} without an API key: anyone who can reach this address can "
        "fill the vault and remove its models. Set DEVON_API_KEY to require "
        "'Authorization: Bearer <key>'."
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def running(app: Any, host: str = "127.0.0.1", port: int = 0, **config: Any) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread (port 0: any free one) and yield its
    base URL; stop it on exit. For notebooks, tests and benchmarks::

        with running(create_app(devon)) as url:
            httpx.get(f"{url}/health")

    `config` goes to `uvicorn.Config` (e.g. `http=LimitedProtocol`)."""
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=host, port=port, **{"log_level": "warning", "access_log": False, **config}
        )
    )
    thread = threading.Thread(target=server.run, name="devon-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"The HTTP server did not start on {host}:{port}")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)
