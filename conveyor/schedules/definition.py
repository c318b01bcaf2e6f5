"""A schedule's definition: which job to enqueue, when, and what counts as a good run."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor._durations import Duration, to_seconds
from conveyor._jobs import check_priority
from conveyor._names import check_job_name, check_queue, check_schedule_name
from conveyor.errors import ConfigurationError
from conveyor.schedules.misfire import check_catch_up, check_overlap
from conveyor.schedules.timing import Cron, Every, Timing, parse_timing
from conveyor.store.watch_types import ScheduleRow, ScheduleSource

DEFAULT_CATCH_UP_CAP = 100
MIN_DEFAULT_GRACE = 60.0
MAX_DEFAULT_GRACE = 3600.0

PIPELINE_PREFIX = "pipeline:"
"""A schedule of a pipeline stores ``pipeline:<name>`` where a schedule of a job stores the job's
name (a pipeline's stage jobs are ``<pipeline>.<stage>``, so no stage job is named like this)."""

Expectation = Callable[[Any], bool]
"""A check on a successful run's result: False (or an exception) makes the run unexpected."""


@dataclass(frozen=True)
class ScheduleDef:
    """One schedule: enqueue ``job_name`` with ``args`` at every slot of ``timing``."""

    name: str
    job_name: str
    timing: Timing
    args: Mapping[str, Any] = field(default_factory=dict)
    queue: str | None = None
    priority: int | None = None
    grace: float = MIN_DEFAULT_GRACE
    """A slot whose run has not succeeded this many seconds after it raises an alert."""
    catch_up: str = "latest"
    catch_up_cap: int = DEFAULT_CATCH_UP_CAP
    overlap: str = "skip"
    expect: Expectation | None = None
    max_duration: float | None = None
    """A successful run that took longer than this is judged unexpected."""
    source: ScheduleSource = ScheduleSource.CODE

    @property
    def pipeline(self) -> str | None:
        """The name of the pipeline each slot starts a run of; None for a schedule of a job."""
        return pipeline_of(self.job_name)

    @property
    def tz(self) -> str:
        """The IANA time zone of a cron timing; "UTC" for intervals."""
        return self.timing.tz if isinstance(self.timing, Cron) else "UTC"

    def to_row(self) -> ScheduleRow:
        """The store's record of this definition."""
        return ScheduleRow(
            name=self.name,
            job_name=self.job_name,
            timing=self.timing.spec,
            tz=self.tz,
            args_json=json.dumps(dict(self.args), sort_keys=True),
            queue=self.queue,
            priority=self.priority,
            grace=self.grace,
            catch_up=self.catch_up,
            catch_up_cap=self.catch_up_cap,
            overlap=self.overlap,
            source=self.source,
        )

    @classmethod
    def from_row(cls, row: ScheduleRow) -> ScheduleDef:
        """A definition read back from the store (run-time schedules have no expectations)."""
        return cls(
            name=row.name,
            job_name=row.job_name,
            timing=parse_timing(row.timing, row.tz),
            args=json.loads(row.args_json),
            queue=row.queue,
            priority=row.priority,
            grace=row.grace,
            catch_up=row.catch_up,
            catch_up_cap=row.catch_up_cap,
            overlap=row.overlap,
            source=row.source,
        )


def pipeline_of(job_name: str) -> str | None:
    """The pipeline a stored schedule's ``job_name`` names (``pipeline:<name>``), or None."""
    if job_name.startswith(PIPELINE_PREFIX):
        return job_name[len(PIPELINE_PREFIX) :]
    return None


def make_timing(cron: str | None, every: Duration | None, tz: str | None) -> Timing:
    """Exactly one of ``cron`` and ``every``, validated into a timing."""
    if (cron is None) == (every is None):
        raise ConfigurationError("a schedule needs exactly one of cron='0 3 * * *' or every='15m'")
    if cron is not None:
        return Cron(cron, tz or "UTC")
    if tz is not None:
        raise ConfigurationError(
            "tz= applies to cron schedules; every= follows real elapsed time in every zone"
        )
    assert every is not None
    return Every(to_seconds(every, what="every"))


def default_grace(timing: Timing) -> float:
    """One period between slots, kept between a minute and an hour."""
    start = timing.next_after(1_800_000_000.0)
    period = timing.next_after(start) - start
    return min(MAX_DEFAULT_GRACE, max(MIN_DEFAULT_GRACE, period))


def build_schedule(
    name: str,
    job_name: str,
    timing: Timing,
    *,
    args: Mapping[str, Any] | None = None,
    queue: str | None = None,
    priority: int | None = None,
    grace: Duration | None = None,
    catch_up: str = "latest",
    catch_up_cap: int = DEFAULT_CATCH_UP_CAP,
    overlap: str = "skip",
    expect: Expectation | None = None,
    max_duration: Duration | None = None,
    source: ScheduleSource = ScheduleSource.CODE,
) -> ScheduleDef:
    """Validate a schedule's options; raise :class:`ConfigurationError` naming the mistake."""
    name = check_schedule_name(name)
    if args is not None and not isinstance(args, Mapping):
        raise ConfigurationError(
            f"schedule {name!r}: args= takes a dict of the job's keyword arguments, got "
            f"{type(args).__name__}"
        )
    try:
        json.dumps(dict(args or {}))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"schedule {name!r}: args must be JSON values (str, int, float, bool, None, lists "
            f"and dicts of them): {exc}"
        ) from exc
    if isinstance(catch_up_cap, bool) or not isinstance(catch_up_cap, int) or catch_up_cap < 1:
        raise ConfigurationError(
            f"schedule {name!r}: catch_up_cap must be a whole number of slots, 1 or more, "
            f"got {catch_up_cap!r}"
        )
    if expect is not None and not callable(expect):
        raise ConfigurationError(
            f"schedule {name!r}: expect= takes a function of the run's result returning "
            f"True when the run did its work, got {expect!r}"
        )
    if pipeline_of(job_name) is not None and overlap == "queue":
        raise ConfigurationError(
            f"schedule {name!r} starts pipeline {pipeline_of(job_name)!r}: overlap='queue' "
            "holds a slot's one job back until the previous one finished, and a run is many "
            "jobs; use overlap='skip' (the default: no new run while one is running) or 'allow'"
        )
    return ScheduleDef(
        name=name,
        job_name=check_job_name(job_name),
        timing=timing,
        args=dict(args or {}),
        queue=None if queue is None else check_queue(queue),
        priority=None if priority is None else check_priority(priority),
        grace=default_grace(timing) if grace is None else to_seconds(grace, what="grace"),
        catch_up=check_catch_up(catch_up),
        catch_up_cap=catch_up_cap,
        overlap=check_overlap(overlap),
        expect=expect,
        max_duration=(
            None if max_duration is None else to_seconds(max_duration, what="max_duration")
        ),
        source=source,
    )
