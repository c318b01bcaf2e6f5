"""Timings: which instants a schedule fires at, as UTC epoch seconds.

Two kinds share one protocol, :class:`Timing`:

- :class:`Every` fires at the multiples of an interval since the Unix epoch, so every replica
  computes the same slots without talking to the others. Time zones play no part.
- :class:`Cron` fires when a cron expression matches the wall clock of an IANA time zone.

Daylight-saving rules for :class:`Cron` (the documented promise):

1. Fixed-hour expressions (``0 3 * * *``) name wall-clock times, and each matching wall-clock
   time fires once. A time skipped by a spring-forward gap fires at the first instant after the
   gap (several skipped times collapse into that one slot); a time repeated by a fall-back fires
   at its first occurrence.
2. Wildcard-hour expressions (``*/15 * * * *``) follow real elapsed time: a whole-minute instant
   is a slot when the wall clock at that instant matches. A repeated hour fires twice, a
   skipped one not at all.

Nothing assumes daylight saving shifts by an hour (Australia/Lord_Howe shifts by 30 minutes).
The one assumption is that a zone's UTC offset does not change twice within six hours.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conveyor.errors import ConfigurationError
from conveyor.schedules.cron import CronExpr

_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)
_MINUTE = timedelta(minutes=1)
# Offsets are probed this far apart when looking for a change; see the module docstring.
_PROBE = 6 * 3600
# Wider than any difference between two UTC offsets (-12h .. +14h), so a wall-clock bound
# computed from the offsets of the next/previous two days is safe.
_OFFSET_SPAN = 2 * 86400
_PREVIOUS_HORIZON = 8 * 366 * 86400


class Timing(Protocol):
    """When a schedule fires: slots are UTC epoch seconds, ascending."""

    @property
    def spec(self) -> str:
        """Round-trippable text, ``"cron:0 3 * * *"`` or ``"every:900"`` (see parse_timing)."""
        ...

    def slots_between(self, after: float, until: float, limit: int) -> list[float]:
        """Slots ``s`` with ``after < s <= until``: the oldest ``limit`` of them, ascending
        (a scheduler catching up records a backlog from its start, a round at a time)."""
        ...

    def count_between(self, after: float, until: float) -> int:
        """How many slots ``s`` satisfy ``after < s <= until``, without listing them."""
        ...

    def next_after(self, t: float) -> float:
        """The first slot strictly after ``t``."""
        ...

    def previous_at_or_before(self, t: float) -> float | None:
        """The last slot at or before ``t``; ``None`` when there is none in the 8 years before."""
        ...

    def describe(self) -> str:
        """A short human description: ``"cron 0 3 * * * Europe/Berlin"``, ``"every 15m"``."""
        ...

    def label(self, slot: float, with_date: bool = False) -> str:
        """How a slot is named to people, e.g. ``"03:00 Europe/Berlin"``."""
        ...


class Every:
    """Fire every ``seconds`` of real time, at the multiples of ``seconds`` since the epoch.

    Raises :class:`ConfigurationError` when ``seconds`` is not a finite number of at least 1.
    """

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ConfigurationError(
                f"an interval must be a number of seconds, not {type(seconds).__name__}; "
                "write e.g. every='15m'"
            )
        if not math.isfinite(seconds) or seconds < 1:
            raise ConfigurationError(
                f"an interval must be at least 1 second, got {seconds!r}; write e.g. every='15m'"
            )
        self.seconds = float(seconds)

    def __repr__(self) -> str:
        return f"Every({self.seconds!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Every) and other.seconds == self.seconds

    def __hash__(self) -> int:
        return hash(("every", self.seconds))

    @property
    def spec(self) -> str:
        """``"every:<seconds>"``."""
        return f"every:{_number(self.seconds)}"

    def _index_range(self, after: float, until: float) -> range:
        # Slot k is k * seconds; the ones with after < k * seconds <= until.
        return range(math.floor(after / self.seconds) + 1, math.floor(until / self.seconds) + 1)

    def slots_between(self, after: float, until: float, limit: int) -> list[float]:
        """Slots ``s`` with ``after < s <= until``: the oldest ``limit`` of them, ascending."""
        indexes = self._index_range(after, until)
        if limit <= 0 or not indexes:
            return []
        return [k * self.seconds for k in indexes[:limit]]

    def count_between(self, after: float, until: float) -> int:
        """How many slots lie in ``(after, until]`` (arithmetic, no listing)."""
        return len(self._index_range(after, until))

    def next_after(self, t: float) -> float:
        """The first slot strictly after ``t``."""
        return (math.floor(t / self.seconds) + 1) * self.seconds

    def previous_at_or_before(self, t: float) -> float | None:
        """The last slot at or before ``t``."""
        return math.floor(t / self.seconds) * self.seconds

    def describe(self) -> str:
        """``"every 15m"``."""
        return f"every {_compact_duration(self.seconds)}"

    def label(self, slot: float, with_date: bool = False) -> str:
        """The slot's UTC time, ``"14:15:00 UTC"`` (with the date when asked)."""
        moment = datetime.fromtimestamp(slot, UTC)
        text = f"{moment:%Y-%m-%d %H:%M:%S}" if with_date else f"{moment:%H:%M:%S}"
        return f"{text} UTC"


class Cron:
    """Fire when ``expr`` matches the wall clock in the IANA zone ``tz``.

    See the module docstring for the daylight-saving rules. Raises
    :class:`ConfigurationError` for a bad expression or an unknown zone.
    """

    __slots__ = ("expr", "tz", "zone")

    def __init__(self, expr: CronExpr | str, tz: str = "UTC") -> None:
        self.expr = expr if isinstance(expr, CronExpr) else CronExpr.parse(expr)
        self.tz = tz
        self.zone = _zone(tz)

    def __repr__(self) -> str:
        return f"Cron({self.expr.text!r}, tz={self.tz!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cron) and (other.expr, other.tz) == (self.expr, self.tz)

    def __hash__(self) -> int:
        return hash(("cron", self.expr, self.tz))

    @property
    def spec(self) -> str:
        """``"cron:<expression>"`` (the zone is stored separately)."""
        return f"cron:{self.expr.text}"

    def slots_between(self, after: float, until: float, limit: int) -> list[float]:
        """Slots ``s`` with ``after < s <= until``: the oldest ``limit`` of them, ascending.

        Walks forwards from ``after``, so the cost follows the slots returned, not the range.
        """
        oldest: list[float] = []
        for slot in self._forward(after):
            if slot > until or len(oldest) >= limit:
                break
            oldest.append(float(slot))
        return oldest

    def count_between(self, after: float, until: float) -> int:
        """How many slots lie in ``(after, until]`` (walks them one by one)."""
        count = 0
        for slot in self._forward(after):
            if slot > until:
                break
            count += 1
        return count

    def next_after(self, t: float) -> float:
        """The first slot strictly after ``t``."""
        return float(next(self._forward(t)))

    def previous_at_or_before(self, t: float) -> float | None:
        """The last slot at or before ``t``; ``None`` when none falls in the 8 years before."""
        for slot in self._backward(t):
            return float(slot) if slot >= t - _PREVIOUS_HORIZON else None
        return None

    def describe(self) -> str:
        """``"cron 0 3 * * * Europe/Berlin"``."""
        return f"cron {self.expr.text} {self.tz}"

    def label(self, slot: float, with_date: bool = False) -> str:
        """The slot's wall-clock time in the zone: ``"03:00 Europe/Berlin"``.

        With ``with_date``: ``"2026-03-29 03:00 Europe/Berlin"``.
        """
        wall = _wall(self.zone, math.floor(slot))
        text = f"{wall:%Y-%m-%d %H:%M}" if with_date else f"{wall:%H:%M}"
        return f"{text} {self.tz}"

    # -- walking slots ---------------------------------------------------------------------

    def _forward(self, after: float) -> Iterator[int]:
        """Slots strictly after ``after``, ascending, forever."""
        # Slots are whole seconds, so "> after" is "> floor(after)".
        if self.expr.fixed_hours:
            return _fixed_forward(self.expr, self.zone, math.floor(after))
        return _elapsed_forward(self.expr, self.zone, math.floor(after))

    def _backward(self, until: float) -> Iterator[int]:
        """Slots at or before ``until``, descending, until the calendar runs out."""
        if self.expr.fixed_hours:
            return _fixed_backward(self.expr, self.zone, math.floor(until))
        return _elapsed_backward(self.expr, self.zone, math.floor(until))


def parse_timing(spec: str, tz: str) -> Timing:
    """Rebuild a timing from its ``spec`` text (and, for cron, its zone).

    Raises :class:`ConfigurationError` for text that is not ``cron:...`` or ``every:...``.
    """
    kind, _, rest = spec.partition(":")
    if kind == "cron":
        return Cron(rest, tz)
    if kind == "every":
        try:
            seconds = float(rest)
        except ValueError:
            pass
        else:
            return Every(seconds)
    raise ConfigurationError(
        f"schedule timing {spec!r} is neither 'cron:<expression>' nor 'every:<seconds>'; "
        "write e.g. 'cron:0 3 * * *' or 'every:900'"
    )


# -- fixed-hour expressions: each matching wall-clock time fires once ------------------------


def _fixed_forward(expr: CronExpr, zone: ZoneInfo, after: int) -> Iterator[int]:
    # Every wall time L whose slot is after `after` lies beyond after + (smallest offset in
    # force from `after` on); starting there skips nothing and scans little.
    lowest = min(_offset(zone, after), _offset(zone, after + _OFFSET_SPAN))
    wall = _EPOCH + timedelta(seconds=after + lowest)
    last: int | None = None
    while True:
        wall = expr.next_local(wall)
        slot = _first_instant(zone, wall)
        # Wall times in one gap share a slot, and slots never go backwards in wall order.
        if slot <= after or (last is not None and slot <= last):
            continue
        last = slot
        yield slot


def _fixed_backward(expr: CronExpr, zone: ZoneInfo, until: int) -> Iterator[int]:
    highest = max(_offset(zone, until), _offset(zone, until - _OFFSET_SPAN))
    wall: datetime | None = _EPOCH + timedelta(seconds=until + highest)
    last: int | None = None
    while True:
        wall = expr.previous_local(wall) if wall is not None else None
        if wall is None:
            return
        slot = _first_instant(zone, wall)
        if not (slot > until or (last is not None and slot >= last)):
            last = slot
            yield slot
        wall -= _MINUTE


def _first_instant(zone: ZoneInfo, wall: datetime) -> int:
    """The instant a fixed-hour schedule fires for the naive wall-clock time ``wall``."""
    local = _epoch(wall)
    early = local - _wall_offset(zone, wall, fold=0)
    late = local - _wall_offset(zone, wall, fold=1)
    if early == late:
        return early
    first, second = min(early, late), max(early, late)
    if _wall(zone, first) == wall:
        return first  # repeated by a fall-back: the first occurrence
    # Skipped by a spring-forward gap: the transition instant, which lies between the two
    # readings (before the gap's offset and after it).
    change = _next_change(zone, first, second)
    return second if change is None else change


# -- wildcard-hour expressions: follow real elapsed time --------------------------------------


def _elapsed_forward(expr: CronExpr, zone: ZoneInfo, after: int) -> Iterator[int]:
    current, inclusive = after, False
    while True:
        offset = _offset(zone, current)
        start = _wall(zone, current)
        wall = expr.next_local(start - _SECOND if inclusive else start)
        slot = _epoch(wall) - offset
        change = _next_change(zone, current, slot)
        if change is not None:
            # The offset changes before that slot: read the wall clock again from the change.
            current, inclusive = change, True
            continue
        # The offset holds up to `slot`; keep going while it holds.
        horizon = slot + _PROBE
        change = _next_change(zone, slot, horizon)
        steady_until = horizon if change is None else change - 1
        while slot <= steady_until:
            yield slot
            wall = expr.next_local(wall)
            slot = _epoch(wall) - offset
        current, inclusive = (horizon, False) if change is None else (change, True)


def _elapsed_backward(expr: CronExpr, zone: ZoneInfo, until: int) -> Iterator[int]:
    current = until
    while True:
        offset = _offset(zone, current)
        wall = expr.previous_local(_wall(zone, current))
        if wall is None:
            return
        slot = _epoch(wall) - offset
        begins = _segment_start(zone, slot, current)
        if begins is not None:
            current = begins - 1
            continue
        horizon = slot - _PROBE
        begins = _segment_start(zone, horizon, slot)
        steady_from = horizon if begins is None else begins
        while slot >= steady_from:
            yield slot
            found = expr.previous_local(wall - _MINUTE)
            if found is None:
                return
            wall = found
            slot = _epoch(wall) - offset
        current = steady_from - 1


# -- zone arithmetic ---------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise ConfigurationError(
            f"time zone {name!r} is not an IANA zone name; write e.g. tz='Europe/Berlin'"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"time zone {name!r} is unknown; use an IANA name such as 'Europe/Berlin' or "
            "'America/New_York' (is the tzdata package installed?)"
        ) from None


def _epoch(naive: datetime) -> int:
    """Seconds since the epoch of a naive datetime read as UTC (exact, integer)."""
    return (naive - _EPOCH) // _SECOND


def _wall(zone: ZoneInfo, instant: int) -> datetime:
    """The naive wall-clock time in ``zone`` at ``instant``."""
    return datetime.fromtimestamp(instant, zone).replace(tzinfo=None, fold=0)


def _offset(zone: ZoneInfo, instant: int) -> int:
    """The UTC offset in force in ``zone`` at ``instant``, in seconds."""
    return _seconds(datetime.fromtimestamp(instant, zone).utcoffset())


def _wall_offset(zone: ZoneInfo, wall: datetime, fold: int) -> int:
    return _seconds(wall.replace(tzinfo=zone, fold=fold).utcoffset())


def _seconds(offset: timedelta | None) -> int:
    return 0 if offset is None else offset // _SECOND


def _next_change(zone: ZoneInfo, start: int, end: int) -> int | None:
    """The first instant in ``(start, end]`` whose offset differs from the one at ``start``."""
    before = _offset(zone, start)
    low = start
    while low < end:
        high = min(low + _PROBE, end)
        if _offset(zone, high) != before:
            # Bisect (low, high]: low still has the old offset, high the new one.
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, middle) == before:
                    low = middle
                else:
                    high = middle
            return high
        low = high
    return None


def _segment_start(zone: ZoneInfo, start: int, end: int) -> int | None:
    """When the offset in force at ``end`` began, if that is inside ``(start, end]``."""
    after = _offset(zone, end)
    high = end
    while high > start:
        low = max(high - _PROBE, start)
        if _offset(zone, low) != after:
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, middle) == after:
                    high = middle
                else:
                    low = middle
            return high
        high = low
    return None


# -- text ---------------------------------------------------------------------------------------


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _compact_duration(seconds: float) -> str:
    """``900`` -> ``15m``, ``5400`` -> ``1h30m``, ``1.5`` -> ``1.5s``."""
    if not seconds.is_integer():
        return f"{_number(seconds)}s"
    rest = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
