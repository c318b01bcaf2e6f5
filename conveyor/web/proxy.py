"""Which client sent a request, and over which scheme, when a reverse proxy is in front.

A TLS-terminating proxy talks plain HTTP to the dashboard and says what it saw in
``X-Forwarded-For`` and ``X-Forwarded-Proto``. Those headers are believed only from the
addresses listed as trusted proxies (``trusted_proxies=`` / ``--trusted-proxy``); from
anyone else they are ignored, since any client can send them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

from conveyor.errors import ConfigurationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The addresses (or CIDR networks) whose forwarding headers are believed."""

    def __init__(self, addresses: Iterable[str] = ()) -> None:
        networks: list[Network] = []
        for address in addresses:
            try:
                networks.append(ipaddress.ip_network(address.strip(), strict=False))
            except ValueError:
                raise ConfigurationError(
                    f"trusted proxy {address!r} is not an IP address or network; give "
                    "addresses such as 127.0.0.1 or 10.0.0.0/8"
                ) from None
        self.networks = tuple(networks)

    def trusts(self, host: str) -> bool:
        """True when ``host`` is one of the trusted proxies."""
        try:
            address = ipaddress.ip_address(host.strip().strip("[]"))
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def _peer(self, request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def client(self, request: Request) -> str:
        """The client's address: the peer, or, behind trusted proxies, the nearest address
        in ``X-Forwarded-For`` that is not one of them."""
        peer = self._peer(request)
        if not self.trusts(peer):
            return peer
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
        hops = [h for h in hops if h]
        for hop in reversed(hops):  # appended by each proxy: the right end is the nearest
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer

    def is_https(self, request: Request) -> bool:
        """True when the browser's connection is HTTPS: served over TLS directly, or a
        trusted proxy says so in ``X-Forwarded-Proto``."""
        if request.url.scheme in ("https", "wss"):
            return True
        if not self.trusts(self._peer(request)):
            return False
        said = request.headers.get("x-forwarded-proto", "").split(",")[-1]
        return said.strip().lower() == "https"
