"""HMAC-SHA256 signatures on webhook bodies, so a receiver can tell a notice came from us.

This is the documented place to import :func:`verify` from (see docs/alerts.md). The code lives
in :mod:`conveyor._signing`, below both the monitor and the outbound HTTP client that signs
alert and ``notify_url`` bodies, so neither has to import the other.
"""

from __future__ import annotations

from conveyor._signing import SIGNATURE_HEADER, sign, verify

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]
