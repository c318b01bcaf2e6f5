"""The JSON API of pipeline runs: list, read, start, cancel and resume them.

The same rules as every route of :mod:`conveyor.web.api`: a principal first, an admin (with
the session's CSRF token, for a browser) to act; bad input is a 4xx that names what was wrong
and writes nothing. Starting, cancelling and resuming are recorded in the audit log with who
did it (cancel and resume by the store, in the transaction that does them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from conveyor.errors import (
    ArgumentError,
    ConfigurationError,
    PayloadTooLargeError,
    ResumeRefusedError,
    StoreUnavailableError,
)
from conveyor.models import RunState
from conveyor.pipelines.declare import Pipeline
from conveyor.pipelines.handle import RunHandle
from conveyor.pipelines.resume import UNSET, ResumePlan
from conveyor.pipelines.runs import start_run
from conveyor.store.contract.run_records import RunFilter
from conveyor.web import params
from conveyor.web.api_base import ApiJson
from conveyor.web.api_requests import check_storable, query_values, read_json
from conveyor.web.openapi_parts import DEFAULT_PAGE, MAX_PAGE
from conveyor.web.params import BadParameter
from conveyor.web.runs_view import (
    MAX_OUTPUT_PAGE,
    OUTPUT_PAGE,
    RunView,
    output_page,
    read_run,
    run_detail,
    run_summary,
)
from conveyor.web.web_context import ApiError, WebContext

T = TypeVar("T")

START_FIELDS = frozenset({"pipeline", "input", "tenant"})
RESUME_FIELDS = frozenset({"from", "input", "dry_run"})
LIST_PARAMETERS = ("pipeline", "state", "before_id", "limit")


def run_api_routes(context: WebContext) -> list[BaseRoute]:
    """The ``/api/runs`` routes of one dashboard."""
    api = RunsApi(context)
    return [
        Route("/api/runs", api.list_runs, methods=["GET"], name="api_runs"),
        Route("/api/runs", api.start, methods=["POST"], name="api_run_start"),
        Route("/api/runs/{run_id}", api.run, methods=["GET"], name="api_run"),
        Route("/api/runs/{run_id}/stages/{stage}/output", api.output, methods=["GET"],
              name="api_run_output"),
        Route("/api/runs/{run_id}/cancel", api.cancel, methods=["POST"], name="api_run_cancel"),
        Route("/api/runs/{run_id}/resume", api.resume, methods=["POST"], name="api_run_resume"),
    ]


def run_id(request: Request) -> int:
    """The ``{run_id}`` of the request's path: a whole number from 1 to 2**63 - 1, or a 400."""
    return params.whole(str(request.path_params["run_id"]), "run_id")


def declared_pipeline(context: WebContext, name: str) -> Pipeline:
    """The pipeline ``name`` the dashboard's app declares, or a 404 listing those it does."""
    pipeline = context.app.pipelines.get(name)
    if pipeline is None:
        known = sorted(context.app.pipelines)
        raise ApiError(
            404, "unknown_pipeline",
            f"this app declares no pipeline {name[:100]!r} (it declares: "
            f"{', '.join(known) or 'none'}); declare it with app.pipeline(...) in the app the "
            "dashboard serves",
            known=known,
        )
    return pipeline


def start_in(context: WebContext, name: str, given: Any, tenant: Any) -> int:
    """Start a run of pipeline ``name`` with input ``given``; its id, or a 4xx."""
    pipeline = declared_pipeline(context, name)
    if not isinstance(given, dict):
        raise ApiError(422, "invalid_input", f'"input" must be a JSON object of the first '
                       f"stage's parameters, got {type(given).__name__}")
    check_storable(given, "invalid_input", "input")
    if "tenant" in given:
        raise ApiError(422, "invalid_input", '"tenant" is an option of the run, not part of '
                       'its input; give it at the top level of the body')
    if tenant is not None and not isinstance(tenant, str):
        raise ApiError(422, "invalid_options", '"tenant" must be a string')
    inputs = dict(given)
    if tenant is not None:
        inputs["tenant"] = tenant
    try:
        return start_run(pipeline, inputs).id
    except PayloadTooLargeError as exc:
        raise ApiError(413, "too_large", str(exc)) from exc
    except ArgumentError as exc:
        raise ApiError(422, "invalid_input", str(exc)) from exc
    except ConfigurationError as exc:
        raise ApiError(422, "invalid_options", str(exc)) from exc


def resume_in(context: WebContext, view: RunView, body: dict[str, Any], by: str) -> ResumePlan:
    """Resume (or plan, with ``dry_run``) run ``view``; the plan, or a 4xx."""
    run = view.run
    from_ = body.get("from")
    if from_ is not None and not isinstance(from_, str):
        raise ApiError(422, "invalid_resume", '"from" must be the name of a stage of the run')
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ApiError(422, "invalid_resume", '"dry_run" must be true or false')
    given = body.get("input", UNSET)
    if given is not UNSET:
        check_storable(given, "invalid_input", "input")
    handle = RunHandle(context.app, run.id, run.pipeline)
    try:
        return handle.resume(from_=from_, input=given, dry_run=dry_run, by=by)
    except ConfigurationError as exc:
        # A declared pipeline's resume needs its code, to check the stored outputs.
        raise ApiError(
            409, "pipeline_not_declared",
            f"{exc}; the dashboard must serve the app that declares pipeline {run.pipeline!r}",
        ) from exc
    except ResumeRefusedError as exc:
        raise ApiError(409, "resume_refused", str(exc), state=run.state.value) from exc
    except PayloadTooLargeError as exc:
        raise ApiError(413, "too_large", str(exc)) from exc
    except ArgumentError as exc:
        raise ApiError(422, "invalid_input", str(exc)) from exc


class RunsApi:
    """The handlers; each authenticates first, then validates, then touches the store."""

    def __init__(self, context: WebContext) -> None:
        self.context = context

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking store work on a thread; an unreachable store is a 503."""
        try:
            return await run_in_threadpool(fn, *args)
        except StoreUnavailableError as exc:
            raise ApiError(503, "store_unavailable", str(exc)) from exc

    async def _view(self, request: Request, full: bool = False) -> RunView:
        wanted = run_id(request)
        # Bounded unless every output is asked for: a 10,000-item stage is not read whole.
        view = await self._call(read_run, self.context.store, wanted, full)
        if view is None:
            raise ApiError(404, "run_not_found", f"no run {wanted} (it may have been pruned)")
        return view

    async def list_runs(self, request: Request) -> Response:
        """Runs matching the filters, newest first, one keyset page at a time."""
        await self.context.principal(request)
        flt, limit = list_filter(request.query_params.multi_items())
        found = await self._call(self.context.store.list_runs, flt)
        page = found[:limit]
        return ApiJson({"runs": [run_summary(r) for r in page],
                        "next_before_id": page[-1].id if len(found) > limit else None})

    async def run(self, request: Request) -> Response:
        """One run with every stage: state, items, attempts, timing, output, error. Outputs
        over OUTPUT_SHOWN bytes, and fan-out outputs of more than RUN_OUTPUTS items (not even
        read), are summarized with where to page them unless ``?include=output``."""
        await self.context.principal(request)
        values = query_values(request.query_params.multi_items(), ("include",))
        include = [p.strip() for text in values.get("include", []) for p in text.split(",")]
        unknown = [p for p in include if p and p != "output"]
        if unknown:
            raise BadParameter("include", f"include {unknown[0][:40]!r} is not known; the one "
                               "value is output (every output and the result in full)")
        full = "output" in include
        view = await self._view(request, full)

        def output_url(stage: str) -> str:
            return str(request.url_for("api_run_output", run_id=str(view.run.id), stage=stage))

        return ApiJson(run_detail(view, full, output_url))

    async def output(self, request: Request) -> Response:
        """A page of one stage's output values (``offset``, ``limit``), for outputs too large
        to inline in the run."""
        await self.context.principal(request)
        values = query_values(request.query_params.multi_items(),
                              ("offset", "limit"))
        single = {key: given[0] for key, given in values.items()}
        offset = params.whole(single["offset"], "offset", 0) if "offset" in single else 0
        limit = (params.whole(single["limit"], "limit", 1, MAX_OUTPUT_PAGE)
                 if "limit" in single else OUTPUT_PAGE)
        wanted, name = run_id(request), str(request.path_params["stage"])
        # The store pages the item outputs in SQL: a 10,000-item stage is not read whole.
        # A name with a NUL is no stage's, and PostgreSQL refuses it as a parameter.
        found = None if "\x00" in name else await self._call(
            self.context.store.stage_output_page, wanted, name, offset, limit
        )
        if found is None:
            # Rare: read the run only to say which of run and stage is missing.
            view = await self._view(request)
            raise ApiError(404, "stage_not_found",
                           f"run {view.run.id} has no stage {name[:60]!r} (its stages: "
                           f"{', '.join(s.info.stage for s in view.stages)})")
        return ApiJson({"run_id": wanted, **output_page(found, offset, limit)})

    async def start(self, request: Request) -> Response:
        """Start a run of a declared pipeline with a JSON input; 201 with its id."""
        principal = await self.context.principal(request, act=True)
        body = _object(await read_json(request), START_FIELDS,
                       '{"pipeline": "ingest", "input": {"doc_id": 7}}')
        name = body.get("pipeline")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "invalid_request", 'the body needs "pipeline": the name of a '
                           "pipeline the app declares")
        new_id = await self._call(start_in, self.context, name, body.get("input", {}),
                                  body.get("tenant"))
        details = json.dumps({"via": "api", "pipeline": name})
        await self._call(self.context.store.record_action, principal.name, "run.start",
                         f"run:{new_id}", details)
        return ApiJson(
            {"id": new_id, "pipeline": name, "state": RunState.RUNNING.value},
            status_code=201,
            headers={"Location": str(request.url_for("api_run", run_id=str(new_id)))},
        )

    async def cancel(self, request: Request) -> Response:
        """Cancel a running run: queued stage jobs cancelled, running ones asked to stop."""
        principal = await self.context.principal(request, act=True)
        view = await self._view(request)
        store = self.context.store
        done = await self._call(lambda: store.cancel_run(view.run.id, by=principal.name))
        if not done:
            raise ApiError(409, "invalid_transition", f"run {view.run.id} is {view.run.state}: "
                           "only a running run can be cancelled", state=view.run.state.value)
        after = await self._call(lambda: store.get_run(view.run.id, outputs=0))
        state = after.state.value if after is not None else None
        return ApiJson({"id": view.run.id, "action": "cancel", "changed": True, "state": state})

    async def resume(self, request: Request) -> Response:
        """Re-run a finished run's failed stages (or from a stage), optionally with a new
        input for that stage; with ``dry_run``, only the plan."""
        principal = await self.context.principal(request, act=True)
        body = await _optional_body(request)
        view = await self._view(request)
        plan = await self._call(resume_in, self.context, view, body, principal.name)
        return ApiJson(plan.to_dict())


async def _optional_body(request: Request) -> dict[str, Any]:
    """A resume's body: an empty one means "resume what failed"."""
    raw = await read_json(request, optional=True)
    return {} if raw is None else _object(raw, RESUME_FIELDS, '{"from": "embed", "dry_run": true}')


def _object(body: Any, fields: frozenset[str], example: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", f"the body must be a JSON object such as "
                       f"{example}")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown field(s) "
                       f"{', '.join(repr(u[:40]) for u in unknown[:10])}; the fields are "
                       f"{', '.join(sorted(fields))}")
    return body


def list_filter(items: list[tuple[str, str]]) -> tuple[RunFilter, int]:
    """The RunFilter (fetching one row more than the page) and page size of a list query."""
    values = query_values(items, LIST_PARAMETERS)
    single = {key: given[0] for key, given in values.items()}
    states: list[RunState] = []
    for value in (p.strip() for text in values.get("state", []) for p in text.split(",")):
        if not value:
            continue
        try:
            states.append(RunState(value.lower()))
        except ValueError:
            raise BadParameter("state", f"state {value[:40]!r} is not one of "
                               f"{', '.join(s.value for s in RunState)}") from None
    before = params.whole(single["before_id"], "before_id") if "before_id" in single else None
    limit = (params.whole(single["limit"], "limit", 1, MAX_PAGE) if "limit" in single
             else DEFAULT_PAGE)
    flt = RunFilter(pipeline=single.get("pipeline"), states=tuple(dict.fromkeys(states)),
                    before_id=before, limit=limit + 1)
    return flt, limit
