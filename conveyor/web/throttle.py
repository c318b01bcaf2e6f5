"""Slowing down guessing: failed logins and wrong bearer tokens, counted per client.

Each client (an address, see :class:`~conveyor.web.proxy.TrustedProxies`) has a bucket of
``burst`` failures that refills at one failure per ``refill_seconds``. While the bucket is
empty, every credential it presents (a login or a bearer token, right or wrong) gets a 429
with ``Retry-After``; a session cookie still works, and other clients are not affected.
Buckets live in the process: N dashboard processes allow N times the rate, which still
turns a brute force into centuries.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from conveyor.errors import ConfigurationError
from conveyor.web.errors import ApiError


class TooManyAttempts(ApiError):
    """A 429: this client failed to authenticate too often; ``retry_after`` seconds to wait."""

    def __init__(self, client: str, retry_after: int) -> None:
        super().__init__(
            429,
            "too_many_attempts",
            f"too many failed logins or wrong tokens from {client}; wait {retry_after} s "
            "and try again with the right token",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )
        self.retry_after = retry_after


@dataclass
class AttemptLimiter:
    """Per-client token buckets of failed authentication attempts.

    ``clock`` is injectable (monotonic seconds) so tests move time instead of sleeping.
    At most ``max_clients`` buckets are kept; the least recently failing client is forgotten
    first, so memory stays bounded whatever addresses an attacker uses.
    """

    burst: int = 10
    refill_seconds: float = 6.0
    max_clients: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.burst < 1 or self.refill_seconds <= 0 or self.max_clients < 1:
            raise ConfigurationError(
                "AttemptLimiter needs burst >= 1, refill_seconds > 0 and max_clients >= 1, "
                f"got {self.burst}, {self.refill_seconds} and {self.max_clients}"
            )

    def _level(self, client: str) -> float:
        """Failures ``client`` may still make now (refilled since its last one)."""
        found = self._buckets.get(client)
        if found is None:
            return float(self.burst)
        left, at = found
        return min(float(self.burst), left + (self.clock() - at) / self.refill_seconds)

    def check(self, client: str) -> None:
        """Raise :class:`TooManyAttempts` while ``client``'s bucket is empty."""
        level = self._level(client)
        if level < 1:
            wait = math.ceil((1 - level) * self.refill_seconds)
            raise TooManyAttempts(client, max(1, wait))

    def failed(self, client: str) -> None:
        """Count one failed attempt by ``client``."""
        level = self._level(client) - 1
        self._buckets.pop(client, None)  # re-insert: dict order is least recent first
        self._buckets[client] = (level, self.clock())
        while len(self._buckets) > self.max_clients:
            del self._buckets[next(iter(self._buckets))]
