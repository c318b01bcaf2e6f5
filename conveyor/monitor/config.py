"""How the monitor is set up: its rules, its sinks, how often it looks and reminds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from conveyor._durations import Duration, to_seconds
from conveyor._names import check_schedule_name
from conveyor.errors import ConfigurationError
from conveyor.schedules.timing import Timing
from conveyor.store.watch_types import CheckinRow

if TYPE_CHECKING:
    from conveyor.monitor.sinks import Sink
    from conveyor.store.protocol import Store

DEFAULT_INTERVAL = 10.0
DEFAULT_REMINDER = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule's finding: it fires for ``subject`` (a queue, schedule or check-in name)."""

    rule: str
    subject: str
    summary: str
    """One sentence a person on call understands without opening anything."""
    details: dict[str, Any] = field(default_factory=dict)


class Rule(Protocol):
    """An alert rule: looks at the store and says for which subjects it fires now."""

    @property
    def name(self) -> str:
        """The rule's kind, e.g. ``"queue_age"``; incidents are keyed by (name, subject)."""
        ...

    def evaluate(self, store: Store, now: float) -> list[Firing]:
        """Every subject this rule fires for now (an empty list resolves its incidents)."""
        ...


@dataclass(frozen=True)
class CheckinDef:
    """Work outside Conveyor expected to ping at every slot of ``timing`` within ``grace``."""

    name: str
    timing: Timing
    grace: float

    def to_row(self) -> CheckinRow:
        """The store's record of this check-in."""
        return CheckinRow(
            name=self.name,
            timing=self.timing.spec,
            tz=getattr(self.timing, "tz", "UTC"),
            grace=self.grace,
        )


def build_checkin(name: str, timing: Timing, grace: Duration) -> CheckinDef:
    """Validate a check-in's options."""
    return CheckinDef(check_schedule_name(name), timing, to_seconds(grace, what="grace"))


@dataclass
class MonitorConfig:
    """The app's monitor settings (``app.configure_monitor``)."""

    rules: list[Rule] | None = None
    """None means the default rules (see :func:`conveyor.monitor.rules.default_rules`)."""
    sinks: list[Sink] | None = None
    """None means the log only."""
    interval: float = DEFAULT_INTERVAL
    reminder: float | None = DEFAULT_REMINDER
    """Seconds between reminders of a firing incident; None sends none."""
    enabled: bool = True
    """False keeps workers from running the monitor (run ``conveyor monitor`` instead)."""


def build_monitor_config(
    *,
    rules: Sequence[Rule] | None,
    sinks: Sequence[Sink] | None,
    interval: Duration,
    reminder: Duration | None,
    enabled: bool,
) -> MonitorConfig:
    """Validate ``app.configure_monitor`` arguments."""
    seconds = to_seconds(interval, what="interval")
    if seconds < 0.1:
        raise ConfigurationError(f"monitor interval must be at least 0.1 s, got {interval!r}")
    for rule in rules or ():
        if not callable(getattr(rule, "evaluate", None)) or not isinstance(
            getattr(rule, "name", None), str
        ):
            raise ConfigurationError(
                f"rules= takes alert rules such as conveyor.monitor.QueueAge(...), got {rule!r}"
            )
    for sink in sinks or ():
        if not callable(getattr(sink, "send", None)) or not isinstance(
            getattr(sink, "name", None), str
        ):
            raise ConfigurationError(
                f"sinks= takes alert sinks such as conveyor.monitor.WebhookSink(...), got {sink!r}"
            )
    names = [s.name for s in sinks or ()]
    if len(set(names)) != len(names):
        raise ConfigurationError(
            f"two sinks share a name ({', '.join(sorted(names))}); each sink needs its own "
            "destination so deliveries can be told apart"
        )
    return MonitorConfig(
        rules=None if rules is None else list(rules),
        sinks=None if sinks is None else list(sinks),
        interval=seconds,
        reminder=None if reminder is None else to_seconds(reminder, what="reminder"),
        enabled=enabled,
    )
