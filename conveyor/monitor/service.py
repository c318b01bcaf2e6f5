"""The monitor: one round (:meth:`Monitor.tick`) judges schedule slots, watches check-ins,
runs the alert rules, keeps incidents in line and delivers the outbox.

Any number of processes may run a monitor; a lease in the store lets one of them act at a
time (the others' ticks do nothing until the holder stops renewing it). Every time comes from
the store's clock. A tick is blocking and safe to call from a thread; store errors propagate
(the caller logs and tries again next round), while a rule or sink that fails is logged and
skipped.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from conveyor.models import QueueStats
from conveyor.monitor import checkins as checkin_rules
from conveyor.monitor.checkins import CHECKIN_RULE
from conveyor.monitor.config import Firing, Rule
from conveyor.monitor.delivery import deliver_due
from conveyor.monitor.gauges import SNAPSHOT_NAME, cluster_gauges
from conveyor.monitor.incidents import Changes, Key, reconcile, remind
from conveyor.monitor.judge import BAD_VERDICTS, MISSED_RUN_RULE, decides, judge, summary
from conveyor.monitor.rules import default_rules
from conveyor.monitor.runs import RUN_RULES, watch_runs
from conveyor.monitor.scheduler_watch import NO_SCHEDULER_RULE, SchedulerWatch
from conveyor.monitor.sinks import LogSink, Sink
from conveyor.schedules.definition import ScheduleDef
from conveyor.schedules.misfire import on_time_window
from conveyor.store.watch_types import IncidentRow, LedgerEntry, ScheduleRow, Verdict

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.store.protocol import Store

logger = logging.getLogger("conveyor.monitor")

LEASE_NAME = "monitor"
BUILT_IN_RULES = frozenset({MISSED_RUN_RULE, CHECKIN_RULE, NO_SCHEDULER_RULE}) | RUN_RULES
"""The incidents the monitor keeps itself, whatever rules are configured."""
LEASE_INTERVALS = 3
"""The lease lasts this many intervals, so a holder that misses a tick or two keeps it."""
LEDGER_LOOKBACK = 50
"""How many of a schedule's newest slots are read to find the one that decides its incident."""


@dataclass
class TickReport:
    """What one :meth:`Monitor.tick` did."""

    acted: bool
    """False when another monitor holds the lease: this tick did nothing else."""
    holder: str
    judged: int = 0
    opened: list[Key] = field(default_factory=list)
    resolved: list[Key] = field(default_factory=list)
    reminded: list[Key] = field(default_factory=list)
    delivered: int = 0
    failed_deliveries: int = 0
    rule_errors: list[str] = field(default_factory=list)
    """``"rule_name: ExceptionType: message"`` for each rule (or check-in) that raised."""

    def record(self, changes: Changes) -> None:
        """Add a group's incident changes."""
        self.opened.extend(changes.opened)
        self.resolved.extend(changes.resolved)
        self.reminded.extend(changes.reminded)


def default_holder() -> str:
    """A name for this process in the lease: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class _RoundReads:
    """The store for one round's rules and gauges, reading the per-queue counts once.

    Three default rules and the gauges each want ``queue_stats``, a count of the whole jobs
    table (seconds at millions of rows on a loaded box): one round reads it once. Every other
    verb goes straight to the store.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._stats: dict[float | None, list[QueueStats]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def queue_stats(self, *, now: float | None = None) -> list[QueueStats]:
        """See :meth:`Store.queue_stats`; read once per round and clock."""
        if now not in self._stats:
            self._stats[now] = self._store.queue_stats(now=now)
        return list(self._stats[now])


class Monitor:
    """Runs the monitor's rounds for ``app`` (see the module docstring).

    ``holder`` names this monitor in the lease (default: host, pid and a random suffix);
    ``store`` defaults to the app's.
    """

    def __init__(
        self, app: Conveyor, *, holder: str | None = None, store: Store | None = None
    ) -> None:
        self.app = app
        self.holder = holder or default_holder()
        self.store = store if store is not None else app.store
        self._checkins_synced = False
        self._scheduler_watch = SchedulerWatch()

    def __repr__(self) -> str:
        return f"<Monitor {self.holder}>"

    # -- configuration, read every tick so configure_monitor may run after construction -----

    def _rules(self) -> list[Rule]:
        rules = self.app.monitor_config.rules
        return default_rules() if rules is None else list(rules)

    def _sinks(self) -> list[Sink]:
        sinks = self.app.monitor_config.sinks
        return [LogSink()] if sinks is None else list(sinks)

    # -- the round -----------------------------------------------------------------------

    def tick(self, *, now: float | None = None) -> TickReport:
        """Run one round if this monitor holds (or can take) the lease; say what it did.

        ``now``: the round's clock, defaulting to the store's. The lease and the schedules'
        slots are judged, and incidents opened, refreshed, resolved and counted as notified, at
        it (a test advances it instead of sleeping); the rules' own store reads and the
        notification outbox keep the store's clock.
        """
        config = self.app.monitor_config
        store = self.store
        interval = LEASE_INTERVALS * config.interval
        if not store.set_lease(LEASE_NAME, self.holder, interval, now=now):
            return TickReport(acted=False, holder=self.holder)
        report = TickReport(acted=True, holder=self.holder)
        if not self._checkins_synced:
            for definition in self.app.checkins.values():
                store.put_checkin(definition.name, definition.to_row())
            self._checkins_synced = True
        given = now  # the store verbs read their own clock unless the caller gave one
        now = store.now() if given is None else given
        sinks = self._sinks()
        sink_names = [sink.name for sink in sinks]
        firing = store.firing_incidents()

        def settle(
            evaluated: Collection[str], findings: Iterable[Firing],
            cleared: Collection[Key] | None = None,
        ) -> None:
            """Reconcile the incidents of ``evaluated`` rules with this round's findings."""
            report.record(
                reconcile(store, firing_incidents=firing, evaluated=evaluated,
                          findings=findings, cleared=cleared, sinks=sink_names, now=now)
            )

        schedule_findings, schedule_cleared, report.judged = self._judge_slots(now, firing, given)
        settle({MISSED_RUN_RULE}, schedule_findings, schedule_cleared)
        definitions: dict[str, ScheduleDef | None] = {}
        no_scheduler, scheduler_seen = self._scheduler_watch.check(
            store, lambda name: self._definition(name, definitions), now, given
        )
        settle({NO_SCHEDULER_RULE}, no_scheduler, scheduler_seen)
        checkin_findings, checkin_cleared = self._check_checkins(now, firing, report)
        settle({CHECKIN_RULE}, checkin_findings, checkin_cleared)
        # Runs past their deadline or stalled; an incident resolves once its run is not.
        settle(RUN_RULES, watch_runs(store, now, given))
        rules = self._rules()
        reads = cast("Store", _RoundReads(store))
        evaluated, findings = self._run_rules(rules, now, report, reads)
        # A rule taken out of the configuration never fires again: resolve what it left open.
        configured = {rule.name for rule in rules} | BUILT_IN_RULES
        evaluated |= {i.rule for i in firing} - configured
        settle(evaluated, findings)
        report.record(
            remind(
                store,
                firing_incidents=store.firing_incidents(),
                skip=set(report.opened),
                reminder=config.reminder,
                sinks=sink_names,
                now=now,
            )
        )
        delivery = deliver_due(store, {sink.name: sink for sink in sinks}, now)
        report.delivered = delivery.delivered
        report.failed_deliveries = delivery.failed
        return report

    def write_gauges(self, *, now: float | None = None) -> bool:
        """Compute the cluster gauges and store them as the snapshot ``/metrics`` serves, if
        this monitor holds the lease; True when it wrote them.

        The services call it after each :meth:`tick` that acted, apart from the round, so the
        count of the jobs table (seconds at millions of rows on a loaded box) never delays a
        judgement or an alert. One process (the lease's holder) counts for the whole cluster.
        ``now``: the gauges' clock (default: the store's).
        """
        store = self.store
        if store.lease_holder(LEASE_NAME, now=now) != self.holder:
            return False
        body = "\n".join(cluster_gauges(store, self.app.schedules, now))
        store.put_metrics_snapshot(SNAPSHOT_NAME, body, now=now)
        return True

    def release(self) -> None:
        """Give up the lease (at shutdown), so another monitor takes over at once."""
        self.store.set_lease(LEASE_NAME, self.holder, None)

    # -- schedules -----------------------------------------------------------------------

    def _definition(self, name: str, cache: dict[str, ScheduleDef | None]) -> ScheduleDef | None:
        if name not in cache:
            definition = self.app.schedules.get(name)
            if definition is None:
                row = self.store.get_schedule(name)
                definition = None if row is None else ScheduleDef.from_row(row)
            cache[name] = definition
        return cache[name]

    def _judge_slots(
        self, now: float, firing: Sequence[IncidentRow], given: float | None = None
    ) -> tuple[list[Firing], set[Key], int]:
        """Judge what can be judged; the newest judged slot of each touched schedule decides."""
        definitions: dict[str, ScheduleDef | None] = {}
        verdicts: list[tuple[str, float, Verdict, str | None]] = []
        for entry in self.store.slots_to_judge(now=given):
            judged = judge(entry, self._definition(entry.schedule, definitions), now)
            if judged is not None:
                verdicts.append((entry.schedule, entry.slot, *judged))
        if verdicts:
            self.store.set_verdicts(verdicts, now=given)
        findings: list[Firing] = []
        cleared: set[Key] = set()
        for name in sorted({schedule for schedule, *_ in verdicts}):
            decider = decides(self.store.schedule_ledger(name, limit=LEDGER_LOOKBACK))
            if decider is None or decider.verdict is None:
                continue
            if decider.verdict in BAD_VERDICTS:
                findings.append(self._schedule_firing(decider, definitions.get(name)))
            else:
                cleared.add((MISSED_RUN_RULE, name))
        rows = self.store.list_schedules()
        for row in rows:
            unfired = self._unfired(row, definitions, now)
            if unfired is not None:
                findings.append(unfired)
                cleared.discard((MISSED_RUN_RULE, row.name))
        # An incident of a schedule that no longer exists would remind forever: resolve it.
        known = set(self.app.schedules) | {row.name for row in rows}
        cleared |= {
            (i.rule, i.subject)
            for i in firing
            if i.rule == MISSED_RUN_RULE and i.subject not in known
        }
        return findings, cleared, len(verdicts)

    def _unfired(
        self, row: ScheduleRow, definitions: dict[str, ScheduleDef | None], now: float
    ) -> Firing | None:
        """A finding when a slot's grace ran out and no scheduler even wrote its ledger row.

        Judging covers slots that were fired; this covers the ones nobody fired (every worker
        down, or none that knows the job), which leave no row to judge.
        """
        if row.paused:
            return None
        definition = self._definition(row.name, definitions)
        if definition is None:
            return None
        # A scheduler may see a slot up to its on-time window late without missing it.
        timing = definition.timing
        due = timing.previous_at_or_before(now - definition.grace - on_time_window(timing, now))
        if due is None or due <= row.created_at or (
            row.last_slot is not None and row.last_slot >= due
        ):
            return None
        label = definition.timing.label(due)
        since = (
            "it has never been fired"
            if row.last_slot is None
            else f"its last fired slot was {definition.timing.label(row.last_slot, with_date=True)}"
        )
        return Firing(
            rule=MISSED_RUN_RULE,
            subject=row.name,
            summary=(
                f"{row.name}: the {label} slot was never fired: no running scheduler can run "
                f"this schedule ({since}); check that workers are up and declare {row.job_name}"
            ),
            details={"slot": due, "last_slot": row.last_slot, "verdict": "unfired"},
        )

    @staticmethod
    def _schedule_firing(entry: LedgerEntry, definition: ScheduleDef | None) -> Firing:
        assert entry.verdict is not None
        return Firing(
            rule=MISSED_RUN_RULE,
            subject=entry.schedule,
            summary=summary(definition, entry, entry.verdict),
            details={
                "slot": entry.slot,
                "slot_label": (
                    definition.timing.label(entry.slot, with_date=True)
                    if definition is not None
                    else None
                ),
                "verdict": entry.verdict.value,
                "detail": entry.verdict_detail,
                "job_id": entry.job_id,
                "job_state": None if entry.job_state is None else entry.job_state.value,
                "manual": entry.manual,
            },
        )

    # -- check-ins -----------------------------------------------------------------------

    def _check_checkins(
        self, now: float, firing: Sequence[IncidentRow], report: TickReport
    ) -> tuple[list[Firing], set[Key]]:
        findings: list[Firing] = []
        cleared: set[Key] = set()
        rows = self.store.list_checkins()
        for row in rows:
            if row.paused:
                continue  # paused by an operator: its incident stays as it is
            try:
                found = checkin_rules.check(self.store, row, now)
            except Exception as exc:  # one unreadable check-in must not blind the others
                logger.warning("check-in %s could not be evaluated: %s", row.name, exc)
                report.rule_errors.append(f"{CHECKIN_RULE} {row.name}: {type(exc).__name__}: {exc}")
                continue
            if found is None:
                continue
            if found.ok:
                cleared.add((CHECKIN_RULE, row.name))
            else:
                findings.append(Firing(CHECKIN_RULE, row.name, found.summary, found.details))
        known = {row.name for row in rows}
        cleared |= {
            (i.rule, i.subject) for i in firing if i.rule == CHECKIN_RULE and i.subject not in known
        }
        return findings, cleared

    # -- configured rules ----------------------------------------------------------------

    def _run_rules(
        self, rules: Sequence[Rule], now: float, report: TickReport, store: Store
    ) -> tuple[set[str], list[Firing]]:
        """Evaluate every rule; a rule name any of whose rules raised is left out entirely,
        so its incidents stay as they are instead of resolving for lack of findings."""
        evaluated: set[str] = set()
        broken: set[str] = set()
        findings: list[Firing] = []
        for rule in rules:
            try:
                found = rule.evaluate(store, now)
            except Exception as exc:  # rules may be user code; one failing must not stop us
                logger.warning(
                    "alert rule %s failed and was skipped: %s", rule.name, exc, exc_info=True
                )
                report.rule_errors.append(f"{rule.name}: {type(exc).__name__}: {exc}")
                broken.add(rule.name)
                continue
            evaluated.add(rule.name)
            findings.extend(f for f in found if f.rule == rule.name)
        # Built-in rule names belong to the monitor: a rule claiming one is ignored.
        builtin = {MISSED_RUN_RULE, CHECKIN_RULE, NO_SCHEDULER_RULE} | RUN_RULES
        return evaluated - broken - builtin, findings
