"""HMAC-SHA256 signatures on webhook bodies, so a receiver can tell a notice came from us.

The header is ``Conveyor-Signature: t=<unix seconds>,v1=<hex>`` where the hex digest is
``hmac_sha256(secret, f"{t}." + body)``. Signing the timestamp together with the body lets a
receiver reject an old request replayed by someone who captured it.

A receiver verifies with :func:`verify` (or the same few lines in any language): recompute the
digest over the exact bytes received and compare in constant time.

Internal: the public import path is :mod:`conveyor.monitor.signing`. It sits in the base layer
because the outbound HTTP client (used by alert sinks and by ``notify_url`` webhooks) signs with
it; under ``conveyor.monitor`` it made ``outbound`` and ``monitor`` import each other.
"""

from __future__ import annotations

import hashlib
import hmac
import math

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "Conveyor-Signature"
"""The HTTP header carrying the signature."""

_DIGEST_HEX_LENGTH = hashlib.sha256().digest_size * 2
_HEX_DIGITS = frozenset("0123456789abcdef")


def _digest(secret: str, body: bytes, at: int) -> str:
    message = f"{at}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, at: int) -> str:
    """The ``Conveyor-Signature`` header value for ``body`` sent at unix time ``at``."""
    return f"t={at},v1={_digest(secret, body, at)}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: float = 300) -> bool:
    """True when ``header`` is a valid signature of ``body`` under ``secret``.

    False when the header is malformed, its timestamp is more than ``tolerance`` seconds away
    from ``now`` (a replayed or badly clocked request), or no ``v1`` digest matches. Several
    ``v1=`` entries are accepted so a sender may sign with an old and a new secret while they
    are rotated.
    """
    parsed = _parse(header)
    if parsed is None:
        return False
    at, digests = parsed
    if not math.isfinite(now) or abs(now - at) > tolerance:
        return False
    expected = _digest(secret, body, at)
    # Compare against every candidate (no early exit) so timing reveals nothing useful.
    matched = False
    for digest in digests:
        matched |= hmac.compare_digest(expected, digest)
    return matched


def _parse(header: str) -> tuple[int, list[str]] | None:
    """``(timestamp, v1 digests)`` from a header, or ``None`` when it is malformed."""
    at: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if key == "t":
            if at is not None or not value.isascii() or not value.isdigit():
                return None
            at = int(value)
        elif key == "v1":
            if len(value) != _DIGEST_HEX_LENGTH or not set(value) <= _HEX_DIGITS:
                return None
            digests.append(value)
        # Unknown keys are ignored so a future scheme (v2=...) can be added alongside v1.
    if at is None or not digests:
        return None
    return at, digests
