"""Where a source may redirect DEVON (ADR 0202).

A redirect is followed only to an `http` or `https` address whose host is
- the source's own endpoint host, or listed in `DEVON_REDIRECT_HOSTS` (a name, an address
  or a network such as `10.0.0.0/8`), or
- a host whose every address is public, or of the same kind as the endpoint's own
  addresses: a mirror on loopback may send DEVON elsewhere on loopback, one on the LAN
  elsewhere on the LAN, but a Hub on the internet (or on the LAN) never to this machine's
  loopback, a link-local address (cloud metadata services) or a private network.

A host name is resolved before the request is sent; one that does not resolve here is let
through (the connection fails, or a proxy resolves it: the proxy's network then decides).
"""

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable

import httpx2

from devon_adapters.outbound.answers import OutboundRefusal

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PUBLIC = "public"
SCHEMES = ("http", "https")
MAX_REDIRECTS = 10


class RedirectRefused(OutboundRefusal):
    """The server redirected to an address the rule does not allow (nothing was sent)."""


def address_kind(address: Address) -> str:
    """`loopback`, `link-local`, `multicast`, `public` or `private` (any other address that
    is not globally reachable: RFC 1918, unique local, shared, reserved)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return "loopback"  # 0.0.0.0 and :: reach this machine
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    return PUBLIC if address.is_global else "private"


def resolve(host: str) -> list[Address]:
    """`host`'s addresses (itself, when it is one); none when it does not resolve here."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos]


class RedirectRule:
    """The rule for a source whose endpoint is `endpoint`, with `extra_hosts` allowed
    besides (names, addresses, networks)."""

    def __init__(
        self,
        endpoint: str,
        extra_hosts: Iterable[str] = (),
        resolver: Callable[[str], list[Address]] = resolve,
    ) -> None:
        self._endpoint_host = (httpx2.URL(endpoint).host or "").lower()
        self._names: set[str] = set()
        self._networks: list[Network] = []
        for entry in extra_hosts:
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._names.add(entry.lower().rstrip("."))
        self._resolve = resolver
        self._endpoint_kinds: frozenset[str] | None = None
        self._lock = threading.Lock()

    def check(self, url: httpx2.URL) -> None:
        """Raise RedirectRefused unless a redirect to `url` may be followed."""
        if url.scheme not in SCHEMES:
            raise RedirectRefused(f"it redirected to {url}, which is not an http(s) address")
        host = (url.host or "").lower().rstrip(".")
        if host == self._endpoint_host or host in self._names:
            return
        for address in self._resolve(host):
            if any(address in network for network in self._networks):
                continue
            kind = address_kind(address)
            if kind != PUBLIC and kind not in self.endpoint_kinds():
                shown = host if host == str(address) else f"{host} ({address})"
                raise RedirectRefused(
                    f"it redirected to {url.scheme}://{url.netloc.decode()}{url.path}, "
                    f"a {kind} address {shown}; DEVON follows redirects only to public "
                    "addresses or to the kind of address the source's endpoint has (list "
                    "a host in DEVON_REDIRECT_HOSTS to allow it)"
                )

    def endpoint_kinds(self) -> frozenset[str]:
        """The kinds of the endpoint's own addresses (resolved once, when first needed)."""
        with self._lock:
            if self._endpoint_kinds is None:
                found = self._resolve(self._endpoint_host)
                self._endpoint_kinds = frozenset(address_kind(a) for a in found)
            return self._endpoint_kinds
