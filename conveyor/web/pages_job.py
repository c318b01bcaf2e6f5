"""One job's page: args, result, progress, every attempt, why it waits, and its actions.

Actions fit the job's state: a dead or cancelled job can be run again (``replay`` for dead,
``retry`` for cancelled), a waiting or running one cancelled, a dead one replayed with edited
args (validated exactly as an enqueue would be) or discarded. Each is recorded in the audit log.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from conveyor._args import RESERVED
from conveyor._why import stage_of
from conveyor.app import Conveyor
from conveyor.errors import ConveyorError, StageJobRetryError
from conveyor.models import FINAL_STATES, PENDING_STATES, JobState
from conveyor.store.contract.output import OutputChunk
from conveyor.store.protocol import JobFilter, Replay
from conveyor.web.auth import Principal
from conveyor.web.forms import read_form
from conveyor.web.pages_common import back, call, pretty_json, record, render, text_field
from conveyor.web.params import job_id as path_job_id
from conveyor.web.web_context import WebContext
from conveyor.why import explain, stall_text

RERUN_STATES = frozenset({JobState.DEAD, JobState.CANCELLED})
WAITING_STATES = PENDING_STATES | {JobState.HELD}
"""States whose page says why the job waits (a held one waits for its sequence)."""
CANCEL_STATES = WAITING_STATES | {JobState.RUNNING}
REFRESH_SECONDS = 2


OUTPUT_SHOWN = 500
"""Chunks of a job's output its page shows; the API pages through the rest."""


def output_text(chunks: list[OutputChunk]) -> str:
    """A job's output as one text: text chunks as they are, other values as a JSON line."""
    parts = []
    for chunk in chunks:
        value = json.loads(chunk.chunk_json)
        parts.append(value if isinstance(value, str) else json.dumps(value) + "\n")
    return "".join(parts)


def read_job(app: Conveyor, job_id: int) -> dict[str, Any]:
    """The job, its attempts and (while it waits) the reasons; a 404 when it does not exist."""
    store = app.store
    job = store.get_job(job_id)
    if job is None:
        raise HTTPException(404, f"job {job_id} does not exist (it may have been pruned)")
    chunks = store.read_output(job_id, 0, OUTPUT_SHOWN + 1)
    now = store.now()
    return {
        "now": now,
        "job": job,
        "output": output_text(chunks[:OUTPUT_SHOWN]),
        "output_more": len(chunks) > OUTPUT_SHOWN,
        "attempts": store.list_attempts(job_id),
        "reasons": explain(store, job_id) if job.state in WAITING_STATES else [],
        "stalled": stall_text(job, now),
        "in_run": stage_of(store, job),
        "known": job.name in app.jobs,
        "can_rerun": job.state in RERUN_STATES,
        "can_cancel": job.state in CANCEL_STATES,
        "can_edit": job.state is JobState.DEAD and job.name in app.jobs,
        "can_discard": job.state in FINAL_STATES,
        "refresh": None if job.state.is_final else REFRESH_SECONDS,
        "edited_args": pretty_json(job.args if job.args is not None else {}),
        "edit_error": None,
    }


def validated_args(app: Conveyor, name: str, text: str) -> str:
    """The edited args as the store's JSON, checked as an enqueue checks them.

    Raises :class:`ValueError` with a message for the page when they do not fit the job.
    """
    try:
        args = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the args are not valid JSON: {exc}") from None
    if not isinstance(args, dict):
        raise ValueError('the args must be a JSON object of named arguments, e.g. {"x": 1}')
    options = sorted(RESERVED.intersection(args))
    if options:
        what = "is an enqueue option" if len(options) == 1 else "are enqueue options"
        raise ValueError(
            f"{', '.join(options)} {what}, not an argument of the job; remove it from the args"
        )
    try:
        return app.get(name).validate(**args).args_json
    except ConveyorError as exc:
        raise ValueError(str(exc)) from None


class JobPage:
    """``/jobs/{id}`` and the actions on one job."""

    def __init__(self, context: WebContext) -> None:
        self.context = context

    def routes(self) -> list[BaseRoute]:
        """The job page's routes."""
        return [
            Route("/jobs/{job_id}", self.show, name="job"),
            Route("/jobs/{job_id}/rerun", self.rerun, methods=["POST"], name="job_rerun"),
            Route("/jobs/{job_id}/cancel", self.cancel, methods=["POST"], name="job_cancel"),
            Route("/jobs/{job_id}/replay", self.replay, methods=["POST"], name="job_replay"),
            Route(
                "/jobs/{job_id}/discard", self.discard, methods=["POST"], name="job_discard"
            ),
        ]

    async def show(self, request: Request) -> Response:
        """Render the job's page (also what its auto-refresh fetches)."""
        principal = await self.context.principal(request)
        data = await call(read_job, self.context.app, path_job_id(request))
        return await self._render(request, principal, data)

    async def _render(
        self, request: Request, principal: Principal, data: dict[str, Any], status: int = 200
    ) -> Response:
        return await render(
            self.context, request, principal, "job.html", {**data, "nav": "jobs"}, status=status
        )

    async def rerun(self, request: Request) -> Response:
        """Run a dead or cancelled job again, with fresh attempts (its history is kept)."""
        principal = await self.context.principal(request, act=True)
        job_id = path_job_id(request)
        job = await call(self.context.store.get_job, job_id)
        if job is None or job.state not in RERUN_STATES:
            state = "gone" if job is None else f"{job.state}"
            return back(request, "job", job_id=job_id,
                        error=f"job {job_id} is {state}: only dead or cancelled jobs run again")
        verb = "replay" if job.state is JobState.DEAD else "retry"

        def run() -> list[int]:
            done = self.context.store.retry_jobs(JobFilter(ids=(job_id,), states=(job.state,)))
            if done:
                record(self.context.store, principal, verb, f"job:{job_id}", was=str(job.state))
            return done

        try:
            done = await call(run)
        except StageJobRetryError as exc:  # a stage job runs again by resuming its run
            return back(request, "job", job_id=job_id, error=str(exc))
        if not done:
            return back(request, "job", job_id=job_id,
                        error=f"job {job_id} changed state meanwhile; nothing was done")
        return back(request, "job", job_id=job_id, flash=f"job {job_id} queued to run again")

    async def cancel(self, request: Request) -> Response:
        """Cancel a waiting job, or ask a running one to stop."""
        principal = await self.context.principal(request, act=True)
        job_id = path_job_id(request)

        def run() -> list[int]:
            done = self.context.store.cancel_jobs(
                JobFilter(ids=(job_id,), states=tuple(CANCEL_STATES))
            )
            if done:
                record(self.context.store, principal, "cancel", f"job:{job_id}")
            return done

        if not await call(run):
            return back(request, "job", job_id=job_id,
                        error=f"job {job_id} is not waiting or running; nothing to cancel")
        return back(request, "job", job_id=job_id, flash=f"job {job_id} cancelled")

    async def discard(self, request: Request) -> Response:
        """Delete a finished job and its history for good."""
        principal = await self.context.principal(request, act=True)
        job_id = path_job_id(request)

        def run() -> int:
            count = self.context.store.discard_jobs(
                JobFilter(ids=(job_id,), states=tuple(FINAL_STATES))
            )
            if count:
                record(self.context.store, principal, "discard", f"job:{job_id}")
            return count

        if not await call(run):
            return back(request, "job", job_id=job_id,
                        error=f"job {job_id} has not finished; only finished jobs are discarded")
        return back(request, "dlq", flash=f"job {job_id} discarded")

    async def replay(self, request: Request) -> Response:
        """Replay a dead job with edited args; the page shows what is wrong with bad ones."""
        principal = await self.context.principal(request, act=True)
        job_id = path_job_id(request)
        form = await read_form(request)
        text = text_field(form, "args") or ""
        app = self.context.app

        def run() -> tuple[dict[str, Any], str | None]:
            data = read_job(app, job_id)
            job = data["job"]
            if job.state is not JobState.DEAD:
                return data, f"job {job_id} is {job.state}: only dead jobs replay with new args"
            try:
                args_json = validated_args(app, job.name, text)
            except ValueError as exc:
                return data, str(exc)
            replay = Replay(args_json=args_json)
            try:
                if not app.store.retry_jobs(JobFilter(ids=(job_id,)), replay=replay):
                    return data, f"job {job_id} changed state meanwhile; nothing was done"
            except StageJobRetryError as exc:  # a stage job runs again by resuming its run
                return data, str(exc)
            record(app.store, principal, "replay_with_args", f"job:{job_id}",
                   old_args=job.args, new_args=json.loads(args_json))
            return data, None

        data, error = await call(run)
        if error is None:
            return back(request, "job", job_id=job_id,
                        flash=f"job {job_id} replayed with the edited args")
        data.update(edited_args=text, edit_error=error)
        return await self._render(request, principal, data, status=422)
