"""Where webhooks may go: public internet addresses, plus what the operator allows.

A URL that a job or a network client supplies (``notify_url``) must not turn a worker into a
proxy onto the workers' own network: loopback, private, link-local (cloud metadata at
169.254.169.254 included), unspecified (0.0.0.0) and other non-public addresses are refused.
The check runs twice: when the URL is stored (:func:`url_problem`: a literal address, in any
of the dotted, decimal, octal or hex spellings resolvers accept, or credentials in the URL) and
when it is sent (:mod:`conveyor._outbound` resolves the host, checks every address and connects
only to a checked one).

An operator who runs receivers on an internal network allows them explicitly with an
:class:`AllowList`: networks (``"10.0.0.0/8"``, ``"127.0.0.1"``) or exact host names
(``"hooks.internal"``, trusted whatever they resolve to).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from urllib.parse import urlsplit

from conveyor.errors import ConfigurationError

__all__ = [
    "ALLOW_ENV",
    "CREDENTIALS",
    "Address",
    "AllowList",
    "host_address",
    "non_public_reason",
    "redacted",
    "url_problem",
]

CREDENTIALS = "holds credentials (user:password@)"
"""How :func:`url_problem` starts its answer about credentials, for callers' own advice."""
ALLOW_ENV = "CONVEYOR_WEBHOOK_ALLOW"
"""Comma-separated allow-list used when none is given in code."""

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
# NAT64's well-known prefix embeds an IPv4 address in its last 32 bits (RFC 6052).
_NAT64 = IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class AllowList:
    """Non-public destinations that webhooks may reach anyway.

    Build it with :meth:`parse` (which validates every entry); the empty list allows nothing
    beyond public addresses.
    """

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str] | str | None, *, what: str) -> AllowList:
        """An allow-list from ``entries`` (None: the :data:`ALLOW_ENV` variable, else empty).

        Each entry is an IP address, a network in CIDR form, or an exact host name. Raises
        :class:`ConfigurationError` naming ``what`` for anything else.
        """
        if entries is None:
            entries = os.environ.get(ALLOW_ENV, "")
            what = f"{ALLOW_ENV} (from the environment)"
        if isinstance(entries, str):
            entries = [part for part in entries.split(",") if part.strip()]
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in entries:
            if not isinstance(entry, str) or not entry.strip():
                raise ConfigurationError(
                    f"{what}: every entry must be a non-empty string, got {entry!r}"
                )
            text = entry.strip().lower()
            try:
                networks.append(ip_network(text, strict=False))
                continue
            except ValueError:
                pass
            if "/" in text or not _HOST_NAME.match(text.rstrip(".")):
                raise ConfigurationError(
                    f"{what}: {entry!r} is neither an IP address, a network such as "
                    "'10.0.0.0/8', nor a host name such as 'hooks.internal'"
                )
            hosts.add(text.rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def __bool__(self) -> bool:
        return bool(self.networks or self.hosts)

    def allows_host(self, host: str) -> bool:
        """True when ``host`` (a URL's host name) is allowed by name."""
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: Address) -> bool:
        """True when ``address`` lies in an allowed network."""
        mapped = _embedded_v4(address)
        return any(
            address in network or (mapped is not None and mapped in network)
            for network in self.networks
        )

    def describe(self) -> str:
        """The entries, for messages."""
        entries = [str(n) for n in self.networks] + sorted(self.hosts)
        return ", ".join(entries) or "nothing"


def _embedded_v4(address: Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def non_public_reason(address: Address) -> str | None:
    """Why ``address`` is not a public internet address (e.g. ``"a loopback address"``), or
    None when it is one. An IPv6 address standing for an IPv4 one is judged by that."""
    embedded = _embedded_v4(address)
    if embedded is not None:
        reason = non_public_reason(embedded)
        return None if reason is None else f"{reason} (as {embedded})"
    if address.is_unspecified:
        return "the unspecified address (it reaches this machine)"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved or non-routable address"
    return None


def host_address(host: str) -> Address | None:
    """``host`` read as an IP address, in every spelling resolvers accept: dotted quads, but
    also ``2130706433``, ``0x7f.1`` or ``0177.0.0.1`` (all 127.0.0.1); None for a host name."""
    try:
        return ip_address(host)
    except ValueError:
        pass
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()  # "127.0.0.1." is the same address
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_number(part) for part in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    *head, last = values
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(values)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return IPv4Address(value)


def _number(part: str) -> int | None:
    """One part of a legacy IPv4 spelling: decimal, ``0x`` hex or leading-zero octal."""
    try:
        if part[:2].lower() == "0x":
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None


def url_problem(url: str, allow: AllowList) -> str | None:
    """What makes ``url`` unfit as a webhook destination, checked without any DNS lookup,
    or None. Refuses non-http(s) URLs, credentials (``user:pass@``) and a host that is a
    literal non-public address not in ``allow``. The answer never repeats a credential."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError:
        return "is not a well-formed URL (check the host and port)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an absolute http:// or https:// URL"
    if "@" in parts.netloc:
        return f"{CREDENTIALS}, which would be kept and shown wherever the URL is"
    host = parts.hostname
    if allow.allows_host(host):
        return None
    address = host_address(host)
    if address is None:
        return None
    reason = non_public_reason(address)
    if reason is None or allow.allows_address(address):
        return None
    spelled = "" if str(address) == host else f" (spelled {host!r})"
    return f"points at {address}{spelled}, {reason}; webhooks go only to public addresses"


def redacted(url: str) -> str:
    """``url`` without its user info, query string or fragment, which may hold tokens."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a malformed URL)"
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else host + parts.path
