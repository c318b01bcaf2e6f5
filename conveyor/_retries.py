"""Backoff between attempts, and the exceptions a handler raises to steer its own retries."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from datetime import datetime

from conveyor._durations import Duration, to_seconds
from conveyor.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter.

    The delay before retry ``n`` (``n`` = 1 after the first failure) is drawn uniformly from
    ``[0, min(cap, base * factor ** (n - 1))]`` when ``jitter`` is on, which spreads a burst of
    failures out instead of retrying them in lock-step; without jitter it is the upper bound.
    """

    base: float = 1.0
    """Seconds (or a duration such as ``"5s"``) before the first retry, at most."""
    cap: float = 3600.0
    """The longest delay, in seconds or as a duration such as ``"1h"``."""
    factor: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        # Accept durations ("5s", timedelta) for base and cap; store plain seconds.
        for name in ("base", "cap"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                object.__setattr__(self, name, to_seconds(value, what=f"backoff {name}"))
        if isinstance(self.factor, bool) or not isinstance(self.factor, int | float):
            raise ConfigurationError(f"Backoff factor must be a number, got {self.factor!r}")
        # Written as "not (x >= y)" so NaN fails the checks too.
        if not self.base > 0:
            raise ConfigurationError(f"Backoff base must be positive seconds, got {self.base!r}")
        if not self.cap >= self.base:
            raise ConfigurationError(
                f"Backoff cap ({self.cap!r}s) must be at least its base ({self.base!r}s)"
            )
        if not (1 <= self.factor < math.inf):
            raise ConfigurationError(
                f"Backoff factor must be 1 or more (and finite), got {self.factor!r}"
            )

    def ceiling(self, retry: int) -> float:
        """The largest delay before retry number ``retry`` (1-based)."""
        exponent = max(0, retry - 1)
        if self.factor == 1:
            return self.base
        # Compare in log space so a huge exponent never overflows a float.
        if exponent * math.log(self.factor) >= math.log(self.cap / self.base):
            return self.cap
        return min(self.cap, self.base * float(self.factor) ** exponent)

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """The delay in seconds before retry number ``retry`` (1-based)."""
        top = self.ceiling(retry)
        if not self.jitter:
            return top
        return (rng or random).uniform(0.0, top)


class Retry(Exception):
    """Raise from a handler to retry after a delay of your choosing.

    ``raise Retry(after="30s")`` counts the attempt and schedules the next one; when attempts
    are spent the job goes to ``dead`` as with any failure.
    """

    def __init__(self, after: Duration = 0.0, reason: str = "retry requested") -> None:
        self.after = to_seconds(after, what="Retry(after=...)")
        self.reason = reason
        super().__init__(reason)


class Snooze(Exception):
    """Raise from a handler to put the job back for a while without spending an attempt.

    ``raise Snooze("30s", reason="the export is not ready yet")`` or
    ``raise Snooze(until=datetime(...))`` (timezone-aware): the job waits as ``scheduled`` and
    runs again then with the same attempt number; the attempt history records it as
    ``snoozed`` with the reason. The job type's ``max_snoozes`` caps how often a job may snooze
    (a handler that snoozes forever is a bug to be seen): past it the job goes to ``dead``.
    Raises :class:`ConfigurationError` for a bad duration, a naive or missing time, or both.
    """

    def __init__(
        self,
        after: Duration | None = None,
        *,
        until: datetime | None = None,
        reason: str = "snoozed",
    ) -> None:
        if after is not None and until is None:
            self.after = to_seconds(after, what="Snooze(after)")
        elif until is not None and after is None:
            if not isinstance(until, datetime) or until.tzinfo is None:
                raise ConfigurationError(
                    f"Snooze(until=...) takes a timezone-aware datetime, got {until!r}"
                )
            # Measured now, on the worker's clock; a time already past means "soon".
            self.after = max(0.0, until.timestamp() - time.time())
        else:
            raise ConfigurationError(
                "Snooze takes either a duration (Snooze('30s')) or a time "
                "(Snooze(until=datetime)), not both and not neither"
            )
        if not isinstance(reason, str):
            raise ConfigurationError(f"Snooze(reason=...) takes a string, got {reason!r}")
        self.reason = reason
        super().__init__(reason)


class Permanent(Exception):
    """Raise from a handler to send the job straight to ``dead`` (no more attempts)."""


class Cancel(Exception):
    """Raise from a handler to end the job as ``cancelled``: it is neither failed nor retried."""
