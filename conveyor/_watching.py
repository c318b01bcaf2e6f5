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
    PIPELINE_PREFIX,
    Expectation,
    ScheduleDef,
    build_schedule,
    make_timing,
)

if TYPE_CHECKING:
    from conveyor._jobs import JobDefinition
    from conveyor.app import Conveyor
    from conveyor.monitor.sinks import Sink
    from conveyor.pipelines import Pipeline

F = TypeVar("F", bound=Callable[..., Any])


class Watching:
    """Schedules, check-ins and monitor settings of an app."""

    jobs: dict[str, JobDefinition[Any, Any]]
    pipelines: dict[str, Pipeline]

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

        Applied to a declared pipeline instead of a function (``app.cron("0 3 * * *",
        args={...})(ingest)``), each slot starts a run of it, with ``args`` as the run's input;
        the slot is then judged by how the whole run ended.

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
            from conveyor.pipelines import Pipeline

            if isinstance(fn, Pipeline):
                if job_options:
                    raise ConfigurationError(
                        f"pipeline {fn.name!r} is scheduled as declared: job options "
                        f"({', '.join(sorted(job_options))}) go on its stages "
                        "(@pipeline.stage(...)), not on its schedule"
                    )
                name = schedule_name or fn.name
                self._add_schedule(build_schedule(name, PIPELINE_PREFIX + fn.name, timing, **opts))
                return cast("JobDefinition[Any, Any]", fn)
            definition = register(fn)
            name = schedule_name or definition.name
            self._add_schedule(build_schedule(name, definition.name, timing, **opts))
            return definition

        return decorate

    def schedule(
        self,
        name: str,
        job: JobDefinition[Any, Any] | Pipeline | str,
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
        e.g. with different ``args``). Give exactly one of ``cron`` and ``every``.

        ``job`` may be a declared pipeline (or its name): each slot then starts a run with
        ``args`` as its input, and the slot is judged by the run's final state (the whole run
        must have succeeded within ``grace``; ``expect`` sees the run's result). ``queue`` and
        ``priority`` do not apply to a pipeline (its stages declare theirs), nor does
        ``overlap="queue"``.
        """
        from conveyor.pipelines import Pipeline

        if isinstance(job, Pipeline) or (
            isinstance(job, str) and job not in self.jobs and job in self.pipelines
        ):
            pipeline = job.name if isinstance(job, Pipeline) else job
            if queue is not None or priority is not None:
                raise ConfigurationError(
                    f"schedule {name!r} starts pipeline {pipeline!r}: queue= and priority= "
                    "apply to a job; a pipeline's stages declare their own"
                )
            job_name = PIPELINE_PREFIX + pipeline
        else:
            job_name = job if isinstance(job, str) else job.name
            if job_name not in self.jobs:
                raise ConfigurationError(
                    f"schedule {name!r}: no job (or pipeline) named {job_name!r} is declared "
                    "on this app; declare it with @app.job or app.pipeline first"
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
        # Arguments are checked now, so a typo fails at import, not at 03:00.
        if definition.pipeline is not None:
            self._check_pipeline_args(definition)
        else:
            self.jobs[definition.job_name].validate(**definition.args)
        self.schedules[definition.name] = definition

    def _check_pipeline_args(self, definition: ScheduleDef) -> None:
        from conveyor.pipelines.runs import new_run

        name = definition.pipeline
        pipeline = self.pipelines.get(name or "")
        if pipeline is None:
            raise ConfigurationError(
                f"schedule {definition.name!r}: no pipeline named {name!r} is declared on "
                "this app; declare it with app.pipeline first"
            )
        if not pipeline.stages:
            raise ConfigurationError(
                f"schedule {definition.name!r}: pipeline {name!r} has no stages yet; schedule "
                "it after declaring its stages"
            )
        args = dict(definition.args)
        new_run(pipeline, args, args.pop("tenant", None), 0.0)

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
