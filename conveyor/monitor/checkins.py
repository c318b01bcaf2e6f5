"""Check-ins: work outside Conveyor pings at every slot of its timing, or an alert fires.

A slot ``s`` is satisfied by any ping ``p`` with ``prev(s) + grace < p <= s + grace``, where
``prev(s)`` is the slot before ``s``: each slot owns the pings that arrive after the previous
slot's deadline and up to its own. So a job that runs a little early or a little late (within
the grace) satisfies the slot it belongs to, and one ping never counts for two slots.

The monitor looks at the newest slot whose deadline has passed: unsatisfied opens (or keeps)
the ``checkin`` incident; satisfied resolves it. Nothing else resolves it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.monitor.judge import wall_clock
from conveyor.schedules.timing import Timing, parse_timing
from conveyor.store.protocol import Store
from conveyor.store.watch_types import CheckinRow

CHECKIN_RULE = "checkin"
"""The rule name of check-in incidents (their subject is the check-in's name)."""


@dataclass(frozen=True, slots=True)
class Window:
    """The pings that count for one slot: those in ``(opens, closes]``."""

    slot: float
    opens: float
    """The previous slot's deadline (``-inf`` when there is no previous slot)."""
    closes: float
    """This slot's deadline: the slot plus the grace."""

    def contains(self, ping: float) -> bool:
        """True when ``ping`` counts for this slot."""
        return self.opens < ping <= self.closes


def window_of(timing: Timing, grace: float, slot: float) -> Window:
    """The ping window of ``slot``."""
    before = timing.previous_at_or_before(math.nextafter(slot, -math.inf))
    opens = -math.inf if before is None else before + grace
    return Window(slot=slot, opens=opens, closes=slot + grace)


def slot_to_check(timing: Timing, grace: float, created_at: float, now: float) -> Window | None:
    """The window of the newest slot whose deadline has passed by ``now``, or None.

    Slots before the check-in was created are never expected (there was nothing to ping).
    """
    slot = timing.previous_at_or_before(now - grace)
    if slot is None or slot < created_at:
        return None
    return window_of(timing, grace, slot)


def satisfied(window: Window, pings: Sequence[float]) -> bool:
    """True when one of ``pings`` counts for the window's slot."""
    return any(window.contains(ping) for ping in pings)


@dataclass(frozen=True, slots=True)
class CheckinFinding:
    """What the newest due slot of a check-in says: ``ok`` or not, with a sentence."""

    name: str
    window: Window
    ok: bool
    summary: str
    details: dict[str, object]


def check(store: Store, row: CheckinRow, now: float) -> CheckinFinding | None:
    """Judge check-in ``row``'s newest due slot against its pings; None when no slot is due yet.

    Raises :class:`ConfigurationError` when the stored timing cannot be read.
    """
    timing = parse_timing(row.timing, row.tz)
    window = slot_to_check(timing, row.grace, row.created_at, now)
    if window is None:
        return None
    since = window.opens if math.isfinite(window.opens) else row.created_at - 1.0
    pings = store.checkin_pings(row.name, since)
    ok = satisfied(window, pings)
    return CheckinFinding(
        name=row.name,
        window=window,
        ok=ok,
        summary=describe(row.name, timing, row.tz, window, ok),
        details={
            "slot": window.slot,
            "slot_label": timing.label(window.slot, with_date=True),
            "deadline": window.closes,
            "last_ping_at": row.last_ping_at,
            "timing": timing.describe(),
        },
    )


def describe(name: str, timing: Timing, tz: str, window: Window, ok: bool) -> str:
    """``backup: no check-in for the 03:00 UTC slot by 03:30`` (or that one came)."""
    slot = timing.label(window.slot)
    deadline = wall_clock(window.closes, tz)
    if ok:
        return f"{name}: checked in for the {slot} slot by {deadline}"
    return f"{name}: no check-in for the {slot} slot by {deadline}"
