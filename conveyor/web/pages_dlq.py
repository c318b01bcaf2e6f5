"""The dead-letter queue: dead jobs grouped by name and error type, replayed or discarded.

Any replay or discard (one job, a selection, or everything matching a filter) first shows a
confirmation page that says how many jobs it touches; from there a dry run lists the first of
them and writes nothing, and a replay may be spread out at a rate (jobs per second) so a big
replay does not stampede a dependency that is just recovering.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from conveyor.errors import StageJobRetryError
from conveyor.models import JobState
from conveyor.store.protocol import JobFilter, Replay, Store
from conveyor.web.auth import Principal
from conveyor.web.forms import read_form
from conveyor.web.pages_common import (
    PAGE_SIZE,
    back,
    call,
    plural,
    record,
    render,
    text_field,
)
from conveyor.web.params import query_text, query_whole, whole
from conveyor.web.web_context import WebContext

DEAD = (JobState.DEAD,)
SAMPLE_SIZE = 20
"""Ids a dry run lists."""
VERBS = ("replay", "discard")
SCOPES = ("one", "selected", "filter")
FILTER_KEYS = ("name", "error_type", "queue")
MAX_RATE = 10_000.0


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead jobs an action is about, and the action (``replay`` or ``discard``)."""

    verb: str
    scope: str
    """``one`` job, the ``selected`` ids, or every dead job matching the ``filter``."""
    ids: tuple[int, ...] = ()
    name: str | None = None
    error_type: str | None = None
    queue: str | None = None

    def job_filter(self, limit: int | None = None) -> JobFilter:
        """The store filter over dead jobs this selection means."""
        if self.scope == "filter":
            return JobFilter(states=DEAD, name=self.name, error_type=self.error_type,
                             queue=self.queue, limit=limit)
        return JobFilter(states=DEAD, ids=self.ids, limit=limit)

    def describe(self) -> str:
        """In words, for the confirmation page: ``job 5`` or ``dead jobs with name x``."""
        if self.scope == "one":
            return f"dead job {self.ids[0]}"
        if self.scope == "selected":
            return f"the {plural(len(self.ids), 'selected dead job')}"
        parts = [f"{label} {value}" for label, value in self.filters().items()]
        return "every dead job" + (" with " + " and ".join(parts) if parts else "")

    def filters(self) -> dict[str, str]:
        """The filter's set fields, labelled for people."""
        labels = {"name": "name", "error_type": "error type", "queue": "queue"}
        return {labels[k]: v for k in FILTER_KEYS if (v := getattr(self, k)) is not None}

    def target(self) -> str:
        """What the audit log names as the target."""
        if self.scope == "one":
            return f"job:{self.ids[0]}"
        if self.scope == "selected":
            return "jobs:" + ",".join(str(i) for i in self.ids[:50])
        return "dlq:" + ",".join(f"{k}={getattr(self, k)}" for k in FILTER_KEYS
                                 if getattr(self, k) is not None)

    def fields(self) -> list[tuple[str, str]]:
        """Hidden form fields that carry this selection to the next step."""
        out = [("verb", self.verb), ("scope", self.scope)]
        out += [("ids", str(i)) for i in self.ids]
        out += [(k, v) for k in FILTER_KEYS if (v := getattr(self, k)) is not None]
        return out


def parse_selection(form: FormData) -> Selection:
    """Read a selection from the DLQ page (``do=replay:one:42`` ...) or the confirmation page
    (``verb``, ``scope``, ``ids``); raises :class:`ValueError` saying what is missing, or
    :class:`~conveyor.web.params.BadParameter` (a 400) for an id that is not one."""
    verb, scope, one = text_field(form, "verb"), text_field(form, "scope"), text_field(form, "ids")
    action = text_field(form, "do")
    if action is not None:
        verb, scope, *rest = [*action.split(":", 2), ""]
        one = rest[0] or None
    if verb not in VERBS or scope not in SCOPES:
        raise ValueError("say what to do: replay or discard, one job, a selection or a filter")
    if scope == "one":
        if one is None:
            raise ValueError("which job? the form did not name one")
        return Selection(verb, scope, (whole(one, "ids"),))
    if scope == "selected":
        ids = tuple(sorted({whole(v, "ids") for v in form.getlist("ids") if isinstance(v, str)
                            and v.strip()}))
        if not ids:
            raise ValueError(f"select the jobs to {verb} first (tick their boxes)")
        return Selection(verb, scope, ids)
    return Selection(verb, scope, (), *(text_field(form, k) for k in FILTER_KEYS))


def parse_rate(form: FormData) -> float | None:
    """The optional replay rate in jobs per second; raises :class:`ValueError` if invalid."""
    text = text_field(form, "per_second")
    if text is None:
        return None
    try:
        rate = float(text)
    except ValueError:
        raise ValueError(f"the rate must be a number of jobs per second, got {text!r}") from None
    if not 0 < rate <= MAX_RATE:
        raise ValueError(f"the rate must be above 0 and at most {MAX_RATE:g} jobs per second")
    return rate


def read_dlq(store: Store, params: dict[str, str], before_id: int | None) -> dict[str, Any]:
    """The groups, and one page of dead jobs narrowed by name, error type and queue."""
    flt = JobFilter(states=DEAD, name=params.get("name"), error_type=params.get("error_type"),
                    queue=params.get("queue"), before_id=before_id, limit=PAGE_SIZE + 1,
                    payloads=False)
    found = store.list_jobs(flt)
    rows = found[:PAGE_SIZE]
    return {
        "now": store.now(),
        "groups": store.dead_groups(),
        "jobs": rows,
        "matching": store.count_jobs(flt),
        "older": {**params, "before_id": str(rows[-1].id)} if len(found) > PAGE_SIZE else None,
    }


class DeadLetterPages:
    """``/dlq`` and its confirmation step."""

    def __init__(self, context: WebContext) -> None:
        self.context = context

    def routes(self) -> list[BaseRoute]:
        """The DLQ's routes."""
        return [
            Route("/dlq", self.dlq, name="dlq"),
            Route("/dlq/confirm", self.confirm, methods=["POST"], name="dlq_confirm"),
            Route("/dlq/run", self.run, methods=["POST"], name="dlq_run"),
        ]

    async def dlq(self, request: Request) -> Response:
        """Render the groups and the (filtered) dead jobs."""
        principal = await self.context.principal(request)
        params = {k: v for k in FILTER_KEYS if (v := query_text(request.query_params, k))}
        data = await call(read_dlq, self.context.store, params,
                          query_whole(request.query_params, "before_id"))
        return await render(self.context, request, principal, "dlq.html",
                            {**data, "filters": params, "nav": "dlq"})

    async def confirm(self, request: Request) -> Response:
        """Say how many jobs the action would touch, and offer a dry run and a rate."""
        principal = await self.context.principal(request, act=True)
        try:
            selection = parse_selection(await read_form(request))
        except ValueError as exc:
            return back(request, "dlq", error=str(exc))
        return await self._confirmation(request, principal, selection)

    async def _confirmation(
        self,
        request: Request,
        principal: Principal,
        selection: Selection,
        *,
        sample: list[int] | None = None,
        error: str | None = None,
        rate: str = "",
    ) -> Response:
        count = await call(self.context.store.count_jobs, selection.job_filter())
        return await render(
            self.context, request, principal, "dlq_confirm.html",
            {"selection": selection, "count": count, "sample": sample, "error": error,
             "rate": rate, "nav": "dlq"},
            status=422 if error else 200,
        )

    async def run(self, request: Request) -> Response:
        """A dry run (lists the first jobs, writes nothing), or the replay or discard itself."""
        principal = await self.context.principal(request, act=True)
        form = await read_form(request)
        try:
            selection = parse_selection(form)
        except ValueError as exc:
            return back(request, "dlq", error=str(exc))
        rate_text = text_field(form, "per_second") or ""
        try:
            rate = parse_rate(form) if selection.verb == "replay" else None
        except ValueError as exc:
            return await self._confirmation(
                request, principal, selection, error=str(exc), rate=rate_text
            )
        store = self.context.store
        if text_field(form, "mode") == "dry":
            found = await call(store.list_jobs, selection.job_filter(limit=SAMPLE_SIZE))
            return await self._confirmation(
                request, principal, selection, sample=[j.id for j in found], rate=rate_text
            )

        def act() -> int:
            flt = selection.job_filter()
            if selection.verb == "replay":
                ids = store.retry_jobs(flt, replay=Replay(per_second=rate))
                count = len(ids)
                details: dict[str, Any] = {"ids": ids[:100], "per_second": rate}
            else:
                count = store.discard_jobs(flt)
                details = {}
            if count:
                record(store, principal, selection.verb, selection.target(), count=count,
                       selection=dataclasses.asdict(selection), **details)
            return count

        try:
            count = await call(act)
        except StageJobRetryError as exc:
            # Dead stage jobs come back by resuming their runs; the message names them.
            return await self._confirmation(
                request, principal, selection, error=str(exc), rate=rate_text
            )
        done = "replayed" if selection.verb == "replay" else "discarded"
        spread = f", {rate:g} per second" if rate and count else ""
        return back(request, "dlq", flash=f"{done} {plural(count, 'dead job')}{spread}")
