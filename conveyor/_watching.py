"""The app's declarations of scheduled work and of what the monitor watches.

Mixed into :class:`conveyor.Conveyor`: ``@app.cron``, ``@app.every``, ``app.schedule``,
``app.checkin`` and ``app.configure_monitor``. See docs/schedules.md and docs/alerts.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from conveyor._durations import Duration
from conveyor.errors import ConfigurationError
from conveyor.monitor.config import (
    DEFAULT_INTERVAL,
    DEFAULT_REMINDER,
    CheckinDef,
    MonitorConfig,
    Rule,
    build_checkin,
    build_monitor_config,
)
from conveyor.schedules.definition import (
    DEFAULT_CATCH_UP_CAP,
    Expectation,
    ScheduleDef,
    build_schedule,
    make_timing,
)

if TYPE_CHECKING:
    from conveyor._jobs import JobDefinition
    from conveyor.app import Conveyor
    from conveyor.monitor.sinks import Sink

F = TypeVar("F", bound=Callable[..., Any])


class Watching:
    """Schedules, check-ins and monitor settings of an app."""

    jobs: dict[str, JobDefinition[Any, Any]]

    def _init_watching(self) -> None:
        self.schedules: dict[str, ScheduleDef] = {}
        """Schedules declared in code, by name."""
        self.checkins: dict[str, CheckinDef] = {}
        """Check-ins declared in code, by name."""
        self.monitor_config = MonitorConfig()

    def cron(
        self,
        expression: str,
        *,
        tz: str = "UTC",
        grace: Duration | None = None,
        args: Mapping[str, Any] | None = None,
        schedule_name: str | None = None,
        catch_up: str = "latest",
        catch_up_cap: int = DEFAULT_CATCH_UP_CAP,
        overlap: str = "skip",
        expect: Expectation | None = None,
        max_duration: Duration | None = None,
        **job_options: Any,
    ) -> Callable[[F], JobDefinition[Any, Any]]:
        """Declare a job and run it at every slot of a cron ``expression`` in zone ``tz``.

        ``grace``: a slot whose run has not succeeded this long after it raises an alert
        (default: one period, between a minute and an hour). ``catch_up`` after downtime:
        ``"latest"`` runs the newest missed slot, ``"all"`` runs up to ``catch_up_cap`` of them,
        ``"none"`` runs none; every missed slot is recorded. ``overlap`` while the previous run
        is going: ``"skip"``, ``"queue"`` (run after it) or ``"allow"``. ``expect`` checks the
        result of a successful run and ``max_duration`` its duration; a run that fails either
        alerts like a missed one. Other keywords (``queue=``, ``retries=`` ...) go to
        :meth:`job`. See docs/schedules.md for the daylight-saving rules.
        """
        return self._scheduled_job(
            make_timing(expression, None, tz),
            grace=grace,
            args=args,
            schedule_name=schedule_name,
            catch_up=catch_up,
            catch_up_cap=catch_up_cap,
            overlap=overlap,
            expect=expect,
            max_duration=max_duration,
            job_options=job_options,
        )

    def every(
        self,
        interval: Duration,
        *,
        grace: Duration | None = None,
        args: Mapping[str, Any] | None = None,
        schedule_name: str | None = None,
        catch_up: str = "latest",
        catch_up_cap: int = DEFAULT_CATCH_UP_CAP,
        overlap: str = "skip",
        expect: Expectation | None = None,
        max_duration: Duration | None = None,
        **job_options: Any,
    ) -> Callable[[F], JobDefinition[Any, Any]]:
        """Declare a job and run it every ``interval`` of real elapsed time ("15m", 30, ...).

        Slots are whole multiples of the interval since the Unix epoch, so every replica
        agrees on them. The other options are those of :meth:`cron`.
        """
        return self._scheduled_job(
            make_timing(None, interval, None),
            grace=grace,
            args=args,
            schedule_name=schedule_name,
            catch_up=catch_up,
            catch_up_cap=catch_up_cap,
            overlap=overlap,
            expect=expect,
            max_duration=max_duration,
            job_options=job_options,
        )

    def _scheduled_job(
        self, timing: Any, *, schedule_name: str | None, job_options: dict[str, Any], **opts: Any
    ) -> Callable[[F], JobDefinition[Any, Any]]:
        register = cast("Conveyor", self).job(**job_options)

        def decorate(fn: F) -> JobDefinition[Any, Any]:
            definition = register(fn)
            name = schedule_name or definition.name
            self._add_schedule(build_schedule(name, definition.name, timing, **opts))
            return definition

        return decorate

    def schedule(
        self,
        name: str,
        job: JobDefinition[Any, Any] | str,
        *,
        cron: str | None = None,
        every: Duration | None = None,
        tz: str | None = None,
        args: Mapping[str, Any] | None = None,
        queue: str | None = None,
        priority: int | None = None,
        grace: Duration | None = None,
        catch_up: str = "latest",
        catch_up_cap: int = DEFAULT_CATCH_UP_CAP,
        overlap: str = "skip",
        expect: Expectation | None = None,
        max_duration: Duration | None = None,
    ) -> ScheduleDef:
        """Schedule an already declared job under ``name`` (one job may have many schedules,
        e.g. with different ``args``). Give exactly one of ``cron`` and ``every``."""
        job_name = job if isinstance(job, str) else job.name
        if job_name not in self.jobs:
            raise ConfigurationError(
                f"schedule {name!r}: no job named {job_name!r} is declared on this app; "
                "declare it with @app.job first"
            )
        definition = build_schedule(
            name,
            job_name,
            make_timing(cron, every, tz),
            args=args,
            queue=queue,
            priority=priority,
            grace=grace,
            catch_up=catch_up,
            catch_up_cap=catch_up_cap,
            overlap=overlap,
            expect=expect,
            max_duration=max_duration,
        )
        self._add_schedule(definition)
        return definition

    def _add_schedule(self, definition: ScheduleDef) -> None:
        if definition.name in self.schedules:
            raise ConfigurationError(
                f"schedule {definition.name!r} is declared twice; give one of them "
                "schedule_name=..."
            )
        job = self.jobs[definition.job_name]
        # Arguments are checked now, so a typo fails at import, not at 03:00.
        job.prepare(**definition.args)
        self.schedules[definition.name] = definition

    def checkin(
        self,
        name: str,
        *,
        cron: str | None = None,
        every: Duration | None = None,
        tz: str | None = None,
        grace: Duration = "5m",
    ) -> CheckinDef:
        """Watch work outside Conveyor: it must run ``conveyor checkin NAME`` (or ping over
        HTTP) at every slot of ``cron``/``every`` within ``grace``, or an alert fires."""
        definition = build_checkin(name, make_timing(cron, every, tz), grace)
        self.checkins[definition.name] = definition
        return definition

    def configure_monitor(
        self,
        *,
        rules: Sequence[Rule] | None = None,
        sinks: Sequence[Sink] | None = None,
        interval: Duration = DEFAULT_INTERVAL,
        reminder: Duration | None = DEFAULT_REMINDER,
        enabled: bool = True,
    ) -> None:
        """Set the monitor's alert rules (default: :func:`conveyor.monitor.default_rules`),
        its sinks (default: the log), how often it looks, and how often a firing incident
        is reminded of (None: never). ``enabled=False`` keeps workers from running it."""
        self.monitor_config = build_monitor_config(
            rules=rules, sinks=sinks, interval=interval, reminder=reminder, enabled=enabled
        )
