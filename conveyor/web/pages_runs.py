"""Pipeline runs in the dashboard: the list, and a page per run with its stage graph.

The run page draws the stages as a server-rendered SVG graph (boxes coloured by state, edges
parent -> child, a fan-out stage's items done/failed/total), lists every stage with its state,
attempts, timing, output and error, says what an unfinished stage waits for, and offers the
actions that fit: cancel a running run; resume a finished one (from the failed stages, or from
a chosen stage, optionally with a replacement input; or only a dry run). Both are POST forms
carrying the CSRF token, refused to read-only principals, and recorded in the audit log.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from conveyor._why import explain_stage
from conveyor.app import Conveyor
from conveyor.errors import ArgumentError, ConfigurationError, ResumeRefusedError
from conveyor.models import RunState, StageState
from conveyor.pipelines.graph import is_workflow
from conveyor.pipelines.handle import RunHandle
from conveyor.pipelines.resume import UNSET
from conveyor.store.contract.run_records import RunFilter, StageRunInfo
from conveyor.store.protocol import Store
from conveyor.web.auth import Principal
from conveyor.web.forms import read_form
from conveyor.web.pages_common import PAGE_SIZE, back, call, pretty_json, render, text_field
from conveyor.web.params import BadParameter, query_text, query_whole, whole
from conveyor.web.run_graph import layout
from conveyor.web.runs_view import RunView, read_run
from conveyor.web.web_context import WebContext
from conveyor.why import explain

REFRESH_SECONDS = 2
OUTPUT_PREVIEW = 120
"""Characters of a stage's output shown in the table; the rest behind "show all"."""
PAGE_OUTPUTS = 20
"""Item outputs the page shows of a fan-out stage too large to read with its run."""
OUTPUT_SHOWN = 64 * 1024
"""Characters of an output the page shows at most (the API pages through all of it:
``GET /api/runs/{id}/stages/{stage}/output``)."""


def read_runs(app: Conveyor, values: dict[str, str], before_id: int | None) -> dict[str, Any]:
    """One page of runs matching the filters, and whether an older page exists."""
    store = app.store
    states: tuple[RunState, ...] = ()
    if values.get("state"):
        states = (RunState(values["state"]),)
    found = store.list_runs(RunFilter(pipeline=values.get("pipeline"), states=states,
                                      before_id=before_id, limit=PAGE_SIZE + 1))
    rows = found[:PAGE_SIZE]
    older = {**values, "before_id": str(rows[-1].id)} if len(found) > PAGE_SIZE else None
    return {"now": store.now(), "runs": rows, "older": older, "paged": before_id is not None,
            "pipelines": sorted(app.pipelines)}


def read_run_page(app: Conveyor, run_id: int) -> dict[str, Any]:
    """Everything the run page shows; a 404 when the run does not exist."""
    view = read_run(app.store, run_id)
    if view is None:
        raise HTTPException(404, f"run {run_id} does not exist (it may have been pruned)")
    run = view.run
    # The run read once serves every stage's explanation (a run may have 30 stages).
    explain_job = partial(explain, app.store, in_run=False)
    reasons = {
        s.info.stage: explain_stage(app.store, run, s.info, explain_job)
        for s in view.stages
        if run.state is RunState.RUNNING and s.info.state in (StageState.WAITING,
                                                               StageState.ACTIVE)
    }
    # A workflow's run carries its graph and arguments: it resumes without its code.
    declared = run.pipeline in app.pipelines or is_workflow(run.graph_json)
    return {
        "view": view,
        "run": run,
        "now": view.now,
        "graph": layout(run.stages, [s.attempts for s in view.stages]),
        "outputs": {s.info.stage: _stage_output(app.store, run.id, s.info) for s in view.stages},
        "input_text": pretty_json(json.loads(run.input_json)),
        "result_text": None if run.result_json is None else _output(run.result_json)[1],
        "reasons": reasons,
        "can_cancel": run.state is RunState.RUNNING,
        "can_resume": run.state is not RunState.RUNNING and declared,
        "declared": declared,
        "failed_stages": [s.stage for s in run.stages if s.state is not StageState.SUCCEEDED],
        "refresh": REFRESH_SECONDS if run.state is RunState.RUNNING else None,
        "resume_from": "",
        "resume_input": "",
        "resume_error": None,
    }


def _stage_output(store: Store, run_id: int, info: StageRunInfo) -> tuple[str, str]:
    """A stage's output as :func:`_output` shows it; for a fan-out stage whose output the run
    was read without (too many items), its first :data:`PAGE_OUTPUTS` item outputs, paged by
    the store, and how many there are (the page links to the rest)."""
    if not info.output_left_out:
        return _output(info.output_json)
    page = store.stage_output_page(run_id, info.stage, 0, PAGE_OUTPUTS)
    if page is None:  # the stage went away between the two reads (a prune)
        return "", ""
    shown = len(page.outputs_json)
    preview, full = _output("[" + ",".join(page.outputs_json) + "]")
    said = f"first {shown:,} of {page.total:,} item outputs"
    return f"{said}: {preview}", f"{full}\n… {said}; the link below pages through all of them"


def _output(text: str | None) -> tuple[str, str]:
    """(a one-line preview, the pretty text up to :data:`OUTPUT_SHOWN` characters)."""
    if text is None:
        return "", ""
    try:
        full = pretty_json(json.loads(text))
    except ValueError:
        full = text
    preview = " ".join(text.split())
    if len(preview) > OUTPUT_PREVIEW:
        preview = preview[: OUTPUT_PREVIEW - 1] + "…"
    if len(full) > OUTPUT_SHOWN:
        full = (full[:OUTPUT_SHOWN] + f"\n… ({len(full) - OUTPUT_SHOWN:,} more characters: "
                "GET /api/runs/{id} has all of it)")
    return preview, full


class RunPages:
    """``/runs``, ``/runs/{id}`` and the actions on one run."""

    def __init__(self, context: WebContext) -> None:
        self.context = context

    def routes(self) -> list[BaseRoute]:
        """The runs pages' routes."""
        return [
            Route("/runs", self.runs, name="runs"),
            Route("/runs/{run_id}", self.show, name="run"),
            Route("/runs/{run_id}/cancel", self.cancel, methods=["POST"], name="run_cancel"),
            Route("/runs/{run_id}/resume", self.resume, methods=["POST"], name="run_resume"),
        ]

    async def runs(self, request: Request) -> Response:
        """Render one page of the runs list."""
        principal = await self.context.principal(request)
        query = request.query_params
        values: dict[str, str] = {}
        errors: list[str] = []
        for key in ("pipeline", "state"):
            try:
                value = query_text(query, key)
            except BadParameter as exc:
                errors.append(exc.detail)
                continue
            if value is not None:
                values[key] = value
        if "state" in values and values["state"] not in {s.value for s in RunState}:
            errors.append(f"unknown state {values.pop('state')!r}; choose one of "
                          f"{', '.join(s.value for s in RunState)}")
        try:
            before_id = query_whole(query, "before_id")
        except BadParameter as exc:
            errors.append(exc.detail)
            before_id = None
        data = await call(read_runs, self.context.app, values, before_id)
        return await render(
            self.context, request, principal, "runs.html",
            {**data, "filters": values, "filter_errors": errors, "nav": "runs",
             "filtered": bool(values), "states": [s.value for s in RunState]},
            status=400 if errors else 200,
        )

    async def show(self, request: Request) -> Response:
        """Render the run's page (also what its auto-refresh fetches)."""
        principal = await self.context.principal(request)
        data = await call(read_run_page, self.context.app, _run_id(request))
        return await self._render(request, principal, data)

    async def _render(
        self, request: Request, principal: Principal, data: dict[str, Any], status: int = 200
    ) -> Response:
        return await render(self.context, request, principal, "run.html",
                            {**data, "nav": "runs"}, status=status)

    async def cancel(self, request: Request) -> Response:
        """Cancel a running run (the store records it in the audit log)."""
        principal = await self.context.principal(request, act=True)
        run_id = _run_id(request)
        if not await call(self.context.store.cancel_run, run_id, by=principal.name):
            return back(request, "run", run_id=run_id,
                        error=f"run {run_id} is not running; nothing to cancel")
        return back(request, "run", run_id=run_id, flash=f"run {run_id} cancelled")

    async def resume(self, request: Request) -> Response:
        """Resume a finished run from the form: the failed stages or a chosen one, with an
        optional replacement input; a dry run only shows the plan. A refusal re-shows the
        page with the reason and the input kept."""
        principal = await self.context.principal(request, act=True)
        run_id = _run_id(request)
        form = await read_form(request)
        from_ = text_field(form, "from")
        raw = text_field(form, "input")
        dry_run = text_field(form, "dry_run") is not None
        app = self.context.app

        def run() -> tuple[dict[str, Any] | None, str, int]:
            view = read_run(app.store, run_id)
            if view is None:
                raise HTTPException(404, f"run {run_id} does not exist (it may have been "
                                         "pruned)")
            try:
                given: Any = UNSET if raw is None else json.loads(raw)
            except ValueError as exc:
                return _refused(app, view, from_, raw, f"the input is not valid JSON: {exc}", 422)
            try:
                plan = RunHandle(app, run_id, view.run.pipeline).resume(
                    from_=from_, input=given, dry_run=dry_run, by=principal.name
                )
            except ArgumentError as exc:
                return _refused(app, view, from_, raw, str(exc), 422)
            except (ResumeRefusedError, ConfigurationError) as exc:
                return _refused(app, view, from_, raw, str(exc), 409)
            verb = "would re-run" if dry_run else "re-running"
            reuse = ", ".join(plan.reuse) or "nothing"
            said = (f"{'dry run: ' if dry_run else 'resumed: '}{verb} {', '.join(plan.rerun)}; "
                    f"reusing {reuse}" + ("; nothing was written" if dry_run else ""))
            return None, said, 303

        data, message, status = await call(run)
        if data is None:
            return back(request, "run", run_id=run_id, flash=message)
        return await self._render(request, principal, data, status=status)


def _refused(
    app: Conveyor, view: RunView, from_: str | None, raw: str | None, message: str, status: int
) -> tuple[dict[str, Any], str, int]:
    """The run page again, with the refusal above the resume form and its values kept."""
    data = read_run_page(app, view.run.id)
    data.update(resume_from=from_ or "", resume_input=raw or "", resume_error=message)
    return data, message, status


def _run_id(request: Request) -> int:
    return whole(str(request.path_params["run_id"]), "run_id")
