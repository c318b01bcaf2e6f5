"""Misfire decisions: which due slots a scheduler round runs and which it records as missed.

Pure decisions, no I/O. A slot seen within its on-time window runs; an older one was missed
(every scheduler was down), and the ``catch_up`` policy decides whether it still runs. Nothing
due is dropped silently: a slot that does not run is written to the ledger as missed.
"""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.errors import ConfigurationError
from conveyor.schedules.timing import Timing

CATCH_UP_CHOICES = ("latest", "all", "none")
"""``catch_up=`` values: after downtime run the newest late slot, all of them (capped), or none."""

OVERLAP_CHOICES = ("skip", "queue", "allow")
"""``overlap=`` values: when the previous run is still going, skip the slot, queue it, or run it."""

MIN_ON_TIME = 2.0
MAX_ON_TIME = 60.0


def on_time_window(timing: Timing, now: float) -> float:
    """How late a slot may be seen and still count as on time rather than missed.

    One period, kept between 2 s and a minute: a round delayed by a busy process must not
    turn a slot into a miss, while an outage of several periods must.
    """
    start = timing.next_after(now)
    return min(MAX_ON_TIME, max(MIN_ON_TIME, timing.next_after(start) - start))


def decide_fires(
    slots: Sequence[float],
    *,
    now: float,
    on_time: float,
    late_total: int,
    catch_up: str,
    cap: int,
) -> list[bool]:
    """Which of the due ``slots`` to run: they are oldest first, starting with the oldest due.

    On-time slots (``now - slot <= on_time``) always run. Of the ``late_total`` late (missed)
    slots, which may be more than ``slots`` holds: ``latest`` runs the newest once, ``all``
    the newest ``cap``, ``none`` none.
    """
    decisions = []
    for index, slot in enumerate(slots):
        if now - slot <= on_time:
            decisions.append(True)
        elif catch_up == "all":
            decisions.append(index >= late_total - cap)
        elif catch_up == "latest":
            decisions.append(index == late_total - 1)
        else:
            decisions.append(False)
    return decisions


def check_catch_up(value: object) -> str:
    """Return ``value`` when it is a valid ``catch_up=`` choice; else raise ConfigurationError."""
    return _check_choice("catch_up", value, CATCH_UP_CHOICES)


def check_overlap(value: object) -> str:
    """Return ``value`` when it is a valid ``overlap=`` choice; else raise ConfigurationError."""
    return _check_choice("overlap", value, OVERLAP_CHOICES)


def _check_choice(option: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(choice) for choice in choices)
        raise ConfigurationError(f"{option} must be one of {listed}, got {value!r}")
    return value
