"""The handle of a pipeline run: wait for its result, read its status, cancel it, resume it."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic

from conveyor.errors import (
    ResultTimeoutError,
    RunCancelledError,
    RunFailedError,
    RunNotFoundError,
)
from conveyor.models import RunState, StageState
from conveyor.pipelines.resume import (
    UNSET,
    ResumePlan,
    apply_resume,
    apply_resume_async,
    plan_resume,
)
from conveyor.pipelines.seams import adapter
from conveyor.store.contract.run_records import RunDetail, StageRunInfo

if TYPE_CHECKING:
    from conveyor.app import Conveyor

_FIRST_POLL = 0.01
_MAX_POLL = 0.25

STATUS_OUTPUTS = 1000
"""Item outputs of a fan-out stage :meth:`RunHandle.status` reads unless told otherwise: a
stage with more reports ``output_left_out`` instead of reading 10,000 outputs (decision 109)."""


@dataclass(frozen=True)
class StageStatus:
    """One stage of a run as :meth:`RunHandle.status` reports it."""

    name: str
    state: StageState
    parents: tuple[str, ...]
    fan_out: bool
    items_total: int
    items_left: int
    items_failed: int
    attempts: int | None
    """Attempts of a plain stage's job so far (None for a fan-out stage, or once pruned)."""
    output: Any
    """The stage's output (JSON as stored) once it succeeded, else None; None too when
    :attr:`output_left_out`."""
    error: str | None
    started_at: float | None
    finished_at: float | None
    job_ids: tuple[int, ...]
    output_left_out: bool = False
    """A succeeded fan-out stage with more items than ``status(outputs=...)`` reads: page its
    output with ``app.store.stage_output_page(run_id, stage, offset, limit)``."""


@dataclass(frozen=True)
class RunStatus:
    """A run's state and each of its stages' (:meth:`RunHandle.status`)."""

    id: int
    pipeline: str
    state: RunState
    error: str | None
    result: Any
    """The run's result (JSON as stored) once it succeeded, else None."""
    created_at: float
    finished_at: float | None
    resumes: int
    stages: tuple[StageStatus, ...]

    def stage(self, name: str) -> StageStatus:
        """The status of stage ``name``; ``KeyError`` if the run has no such stage."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"run {self.id} has no stage {name!r}")


@dataclass(frozen=True)
class RunHandle:
    """A pipeline run: its id, and access to its result, status, cancel and resume.

    Returned by ``pipeline.start(...)``; :meth:`Conveyor.run` makes one for an existing id.
    """

    app: Conveyor
    id: int
    pipeline: str

    def refresh(self, *, outputs: int | None = None) -> RunDetail:
        """The run as the store holds it now; :class:`RunNotFoundError` if it is gone.
        ``outputs``: item outputs read per fan-out stage (None: all; see ``get_run``)."""
        return _found(self.id, self.app.store.get_run(self.id, outputs=outputs))

    async def refresh_async(self, *, outputs: int | None = None) -> RunDetail:
        """The async twin of :meth:`refresh`."""
        return _found(self.id, await self.app.async_store.get_run(self.id, outputs=outputs))

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the run to finish and return its result: the last stage's output, as
        its return annotation's type (several last stages: a dict by stage name).

        Raises :class:`RunFailedError` (its message names the failed stage and why),
        :class:`RunCancelledError`, or :class:`ResultTimeoutError` after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = _FIRST_POLL
        while True:
            # The result is on the run's row: each poll reads no item output.
            run = self.refresh(outputs=0)
            if run.state is not RunState.RUNNING:
                return self._outcome(run)
            if deadline is not None and time.monotonic() >= deadline:
                raise self._timeout(run, timeout)
            time.sleep(pause if deadline is None else min(pause, deadline - time.monotonic()))
            pause = min(_MAX_POLL, pause * 1.5)

    async def result_async(self, timeout: float | None = None) -> Any:
        """The awaitable twin of :meth:`result`; never blocks the event loop."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        pause = _FIRST_POLL
        while True:
            run = await self.refresh_async(outputs=0)
            if run.state is not RunState.RUNNING:
                return self._outcome(run)
            if deadline is not None and loop.time() >= deadline:
                raise self._timeout(run, timeout)
            await asyncio.sleep(pause if deadline is None else min(pause, deadline - loop.time()))
            pause = min(_MAX_POLL, pause * 1.5)

    def status(self, *, outputs: int | None = STATUS_OUTPUTS) -> RunStatus:
        """The run and every stage: state, items, attempts, output, error, timing. A fan-out
        stage's output is read only if it has at most ``outputs`` items (None: however many);
        otherwise its status says ``output_left_out`` and the store pages it."""
        run = self.refresh(outputs=outputs)
        return run_status(run, [self._attempts(s) for s in run.stages])

    async def status_async(self, *, outputs: int | None = STATUS_OUTPUTS) -> RunStatus:
        """The async twin of :meth:`status`."""
        run = await self.refresh_async(outputs=outputs)
        attempts = []
        for stage in run.stages:
            job = None
            if not stage.fan_out and stage.job_ids:
                job = await self.app.async_store.get_job(stage.job_ids[-1])
            attempts.append(None if job is None else job.attempt)
        return run_status(run, attempts)

    def _attempts(self, stage: StageRunInfo) -> int | None:
        if stage.fan_out or not stage.job_ids:
            return None
        job = self.app.store.get_job(stage.job_ids[-1])
        return None if job is None else job.attempt

    def cancel(self, *, by: str | None = None) -> bool:
        """Cancel the run: queued stage jobs are cancelled, running ones asked to stop, the
        run ends ``cancelled``. False when it was not running."""
        return self.app.store.cancel_run(self.id, by=by)

    async def cancel_async(self, *, by: str | None = None) -> bool:
        """The async twin of :meth:`cancel`."""
        return await self.app.async_store.cancel_run(self.id, by=by)

    def resume(
        self,
        *,
        from_: str | None = None,
        input: Any = UNSET,
        dry_run: bool = False,
        by: str | None = None,
    ) -> ResumePlan:
        """Run the failed or cancelled stages again, and their descendants only, reusing
        every stored output upstream. ``from_`` re-runs from that stage instead (and all
        below it); ``input`` replaces that stage's input (validated against its parameters).
        ``dry_run`` returns the plan and writes nothing. Raises
        :class:`~conveyor.errors.ResumeRefusedError` when a reused output no longer fits the
        code (it names the stage to resume from), or the run is still running.
        """
        plan = plan_resume(self.app, self.refresh(), from_, input)
        return plan if dry_run else apply_resume(self.app, plan, by)

    async def resume_async(
        self,
        *,
        from_: str | None = None,
        input: Any = UNSET,
        dry_run: bool = False,
        by: str | None = None,
    ) -> ResumePlan:
        """The async twin of :meth:`resume`."""
        plan = plan_resume(self.app, await self.refresh_async(), from_, input)
        return plan if dry_run else await apply_resume_async(self.app, plan, by)

    def _outcome(self, run: RunDetail) -> Any:
        if run.state is RunState.SUCCEEDED:
            return self._typed(None if run.result_json is None else json.loads(run.result_json))
        if run.state is RunState.FAILED:
            raise RunFailedError(run.id, run.error)
        raise RunCancelledError(run.id)

    def _typed(self, result: Any) -> Any:
        """The stored result as the sink stage's declared type, when this app declares it."""
        declared = self.app.pipelines.get(self.pipeline)
        if declared is None:
            return result
        sinks = declared.sinks
        if len(sinks) == 1:
            return _validate(sinks[0].produces(), result)
        if isinstance(result, dict):
            return {s.name: _validate(s.produces(), result.get(s.name)) for s in sinks}
        return result

    def _timeout(self, run: RunDetail, timeout: float | None) -> ResultTimeoutError:
        active = [s.stage for s in run.stages if s.state is StageState.ACTIVE]
        return ResultTimeoutError(
            f"run {run.id} ({run.pipeline}) is still running after {timeout}s (active: "
            f"{', '.join(active) or 'none'}); is a worker running for its queues? "
            f"(`conveyor runs show {run.id}`)"
        )


def _validate(annotation: object, value: Any) -> Any:
    try:
        return adapter(annotation).validate_python(value)
    except pydantic.ValidationError:
        return value  # stored by other code: hand it over as stored rather than fail


def _found(run_id: int, run: RunDetail | None) -> RunDetail:
    if run is None:
        raise RunNotFoundError(f"run {run_id} does not exist (it may have been pruned)")
    return run


def run_status(run: RunDetail, attempts: list[int | None]) -> RunStatus:
    """A :class:`RunStatus` from the store's record and each stage's attempts."""
    return RunStatus(
        id=run.id,
        pipeline=run.pipeline,
        state=run.state,
        error=run.error,
        result=None if run.result_json is None else json.loads(run.result_json),
        created_at=run.created_at,
        finished_at=run.finished_at,
        resumes=run.resumes,
        stages=tuple(
            StageStatus(
                name=s.stage,
                state=s.state,
                parents=s.parents,
                fan_out=s.fan_out,
                items_total=s.items_total,
                items_left=s.items_left,
                items_failed=s.items_failed,
                attempts=n,
                output=None if s.output_json is None else json.loads(s.output_json),
                error=s.error,
                started_at=s.started_at,
                finished_at=s.finished_at,
                job_ids=s.job_ids,
                output_left_out=s.output_left_out,
            )
            for s, n in zip(run.stages, attempts, strict=True)
        ),
    )
