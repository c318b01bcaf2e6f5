"""Cron expressions: parsing the five-field syntax and finding matching wall-clock minutes.

Everything here works on *naive* wall-clock datetimes (what a clock on the wall shows); mapping
wall-clock times to real instants in a time zone, with its daylight-saving rules, is the job of
:mod:`conveyor.schedules.timing`.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from conveyor.errors import ConfigurationError

EXAMPLE = "write e.g. '0 3 * * *'"

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""The ``@`` shorthands Conveyor accepts, and the five fields each stands for."""

_MONTH_NAMES = {name.upper(): n for n, name in enumerate(calendar.month_abbr) if name}
# Python's calendar starts weeks on Monday; cron counts Sunday as 0.
_WEEKDAY_NAMES = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

# A fixed 28-year window starting on a leap year with no skipped leap year inside (2000 is one):
# every (month, day, weekday) combination the Gregorian calendar can produce occurs in it, so an
# expression that matches no day here matches no day ever. Checking a fixed window, not "the
# next years from today", keeps parsing independent of when it happens.
_NEVER_RUNS_WINDOW = (2000, 2027)

_ONE_MINUTE = timedelta(minutes=1)
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class _Field:
    """How one of the five positions is read: its name, its range and its names."""

    name: str
    low: int
    high: int
    names: dict[str, int]
    # Day-of-week accepts 7 as a second spelling of Sunday; '*' and 'n/m' still stop at 6.
    high_written: int


_FIELDS = (
    _Field("minute", 0, 59, {}, 59),
    _Field("hour", 0, 23, {}, 23),
    _Field("day-of-month", 1, 31, {}, 31),
    _Field("month", 1, 12, _MONTH_NAMES, 12),
    _Field("day-of-week", 0, 6, _WEEKDAY_NAMES, 7),
)
_ALL_HOURS = frozenset(range(24))


@dataclass(frozen=True)
class CronExpr:
    """A parsed five-field cron expression (minute hour day-of-month month day-of-week).

    Build one with :meth:`parse` (or :func:`parse_cron`); the sets hold the values each field
    allows, with Sunday as 0 in ``weekdays``. Day-of-month and day-of-week follow the classic
    cron rule: when both are restricted (neither is written starting with ``*``) a day matches
    when *either* does, otherwise both must.
    """

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_of_month_restricted: bool
    day_of_week_restricted: bool
    # Sorted copies for the next/previous searches (bisect needs sequences).
    _minutes: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _hours: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_minutes", tuple(sorted(self.minutes)))
        object.__setattr__(self, "_hours", tuple(sorted(self.hours)))

    @classmethod
    def parse(cls, text: str) -> CronExpr:
        """Parse ``text`` (five fields or a macro such as ``@daily``).

        Raises :class:`ConfigurationError` quoting the expression and naming the bad field and
        value, or saying the expression never runs (e.g. ``0 0 31 2 *``).
        """
        if not isinstance(text, str):
            raise ConfigurationError(
                f"a cron expression must be a string, not {type(text).__name__}; {EXAMPLE}"
            )
        normalised = " ".join(text.split())
        fields_text = _expand_macro(normalised)
        parts = fields_text.split(" ")
        if len(parts) != 5:
            hint = (
                " (Conveyor cron has minute resolution: drop the seconds field)"
                if len(parts) == 6
                else ""
            )
            raise ConfigurationError(
                f"cron expression {text!r} has {len(parts) if fields_text else 0} fields, needs 5: "
                f"minute hour day-of-month month day-of-week{hint}; {EXAMPLE}"
            )
        values = [_parse_field(spec, part, text) for spec, part in zip(_FIELDS, parts, strict=True)]
        expr = cls(
            text=normalised.lower() if normalised.startswith("@") else normalised,
            minutes=values[0],
            hours=values[1],
            days=values[2],
            months=values[3],
            weekdays=values[4],
            day_of_month_restricted=not parts[2].startswith("*"),
            day_of_week_restricted=not parts[4].startswith("*"),
        )
        if not expr._runs_in_window():
            raise ConfigurationError(
                f"cron expression {text!r} never runs: no day matches its day-of-month, month "
                f"and day-of-week together; {EXAMPLE}"
            )
        return expr

    def __str__(self) -> str:
        return self.text

    @property
    def fixed_hours(self) -> bool:
        """True when the hour field picks some hours only (not ``*``, ``*/1`` or ``0-23``).

        Fixed-hour schedules name wall-clock times ("at 03:00"), so across daylight-saving
        changes each such time fires once; the others follow real elapsed time.
        """
        return self.hours != _ALL_HOURS

    def day_matches(self, day: date) -> bool:
        """Whether ``day`` is a day this expression runs on (month, day-of-month, weekday)."""
        if day.month not in self.months:
            return False
        by_date = day.day in self.days
        by_weekday = day.isoweekday() % 7 in self.weekdays
        if self.day_of_month_restricted and self.day_of_week_restricted:
            return by_date or by_weekday
        return by_date and by_weekday

    def matches(self, local: datetime) -> bool:
        """Whether the naive wall-clock ``local`` falls on a matching minute (seconds ignored)."""
        return (
            local.minute in self.minutes
            and local.hour in self.hours
            and self.day_matches(local.date())
        )

    def next_local(self, after: datetime) -> datetime:
        """The first matching wall-clock minute strictly after the naive datetime ``after``.

        Skips whole months, days and hours that cannot match, so even a yearly expression is
        found in a few hundred steps. Raises :class:`ConfigurationError` only when no match
        exists before the end of the calendar (year 9999).
        """
        start = after.replace(second=0, microsecond=0, tzinfo=None) + _ONE_MINUTE
        day, hour, minute = start.date(), start.hour, start.minute
        try:
            while True:
                if day.month not in self.months:
                    day = self._first_day_of_next_month(day)
                    hour = minute = 0
                    continue
                if not self.day_matches(day):
                    day, hour, minute = day + _ONE_DAY, 0, 0
                    continue
                i = bisect_left(self._hours, hour)
                if i == len(self._hours):
                    day, hour, minute = day + _ONE_DAY, 0, 0
                    continue
                if self._hours[i] != hour:
                    hour, minute = self._hours[i], 0
                j = bisect_left(self._minutes, minute)
                if j == len(self._minutes):
                    hour, minute = hour + 1, 0
                    if hour == 24:
                        day, hour = day + _ONE_DAY, 0
                    continue
                return datetime(day.year, day.month, day.day, hour, self._minutes[j])
        except OverflowError:
            raise ConfigurationError(
                f"cron expression {self.text!r} has no run after {after:%Y-%m-%d %H:%M}"
            ) from None

    def previous_local(self, at_or_before: datetime) -> datetime | None:
        """The last matching wall-clock minute at or before the naive ``at_or_before``.

        ``None`` when there is none before the start of the calendar.
        """
        start = at_or_before.replace(second=0, microsecond=0, tzinfo=None)
        day, hour, minute = start.date(), start.hour, start.minute
        try:
            while True:
                if day.month not in self.months:
                    day = date(day.year, day.month, 1) - _ONE_DAY
                    hour, minute = 23, 59
                    continue
                if not self.day_matches(day):
                    day, hour, minute = day - _ONE_DAY, 23, 59
                    continue
                i = bisect_right(self._hours, hour) - 1
                if i < 0:
                    day, hour, minute = day - _ONE_DAY, 23, 59
                    continue
                if self._hours[i] != hour:
                    hour, minute = self._hours[i], 59
                j = bisect_right(self._minutes, minute) - 1
                if j < 0:
                    hour, minute = hour - 1, 59
                    if hour < 0:
                        day, hour = day - _ONE_DAY, 23
                    continue
                return datetime(day.year, day.month, day.day, hour, self._minutes[j])
        except OverflowError:
            return None

    def _first_day_of_next_month(self, day: date) -> date:
        later = [m for m in sorted(self.months) if m > day.month]
        if later:
            return date(day.year, later[0], 1)
        return date(day.year + 1, min(self.months), 1)

    def _runs_in_window(self) -> bool:
        first_year, last_year = _NEVER_RUNS_WINDOW
        for year in range(first_year, last_year + 1):
            for month in sorted(self.months):
                for day_number in range(1, calendar.monthrange(year, month)[1] + 1):
                    if self.day_matches(date(year, month, day_number)):
                        return True
        return False


def parse_cron(text: str) -> CronExpr:
    """Parse a cron expression; the same as :meth:`CronExpr.parse`."""
    return CronExpr.parse(text)


def _expand_macro(normalised: str) -> str:
    if not normalised.startswith("@"):
        return normalised
    macro = normalised.lower()
    if macro == "@reboot":
        raise ConfigurationError(
            f"cron expression {normalised!r} is not supported: schedules run on the clock, not "
            f"when a worker starts; {EXAMPLE}"
        )
    if macro not in MACROS:
        raise ConfigurationError(
            f"cron expression {normalised!r} is not a known macro (use one of "
            f"{', '.join(MACROS)}), or {EXAMPLE}"
        )
    return MACROS[macro]


def _parse_field(spec: _Field, text: str, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(spec, item, expression))
    if spec.name == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


def _parse_item(spec: _Field, item: str, expression: str) -> range:
    def bad(problem: str) -> ConfigurationError:
        return ConfigurationError(
            f"cron expression {expression!r}: {spec.name} value {item!r} {problem}; {EXAMPLE}"
        )

    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or not 1 <= int(step_text) <= spec.high - spec.low + 1:
            raise bad(f"has an invalid step (use 1-{spec.high - spec.low + 1} after '/')")
        step = int(step_text)
    if base == "*":
        low, high = spec.low, spec.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _value(spec, first, bad), _value(spec, last, bad)
        if low > high:
            raise bad("is a backwards range (ranges cannot wrap around; list the values instead)")
    else:
        low = _value(spec, base, bad)
        # 'n/m' means from n to the end of the field, every m.
        high = spec.high if slash else low
        if slash and low > spec.high:
            high = low
    return range(low, high + 1, step)


def _value(spec: _Field, text: str, bad: Callable[[str], ConfigurationError]) -> int:
    if text.isdigit():
        number = int(text)
        if not spec.low <= number <= spec.high_written:
            raise bad(f"is out of range (use {_allowed(spec)})")
        return number
    if text.upper() in spec.names:
        return spec.names[text.upper()]
    if not text:
        raise bad("is empty")
    raise bad(f"is not a number or name (use {_allowed(spec)})")


def _allowed(spec: _Field) -> str:
    """What a field accepts, for error messages."""
    allowed = f"{spec.low}-{spec.high_written}"
    if spec.name == "day-of-week":
        allowed += ", where 0 and 7 are Sunday"
    if spec.names:
        names = list(spec.names)
        allowed += f", or {names[0]}-{names[-1]}"
    return allowed
