"""Conveyor inside a Starlette app: an async route enqueues, the dashboard is mounted at
/conveyor, and a job's result is followed over Server-Sent Events.

Run it (from the repository root, with `pip install -e '.[web]'`):

    CONVEYOR_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') \
        uvicorn examples.starlette_app:app
    conveyor worker examples.starlette_app:conveyor        # in another terminal
    curl -s -X POST localhost:8000/reports -H 'Content-Type: application/json' \
        -d '{"account_id": 7}'
    curl -sN localhost:8000/conveyor/api/jobs/1/events -H "Authorization: Bearer $CONVEYOR_TOKEN"

Starlette has no database transaction of its own; with one (SQLAlchemy's AsyncSession, a
psycopg AsyncConnection on PostgreSQL), pass its connection as
``enqueue_async(..., connection=conn)``, as examples/fastapi_app.py does with sqlite3.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from conveyor import ArgumentError, Conveyor
from conveyor.web import create_app, random_token

conveyor = Conveyor()  # CONVEYOR_URL, else sqlite:///conveyor.db
TOKEN = os.environ.get("CONVEYOR_TOKEN") or random_token()


@conveyor.job(queue="reports", timeout="5m")
async def build_report(ctx: Any, account_id: int) -> dict[str, int]:
    """Pretend to build an account's report."""
    ctx.progress(0.5, "half way")
    return {"account_id": account_id, "rows": 1234}


async def request_report(request: Request) -> JSONResponse:
    """Enqueue a report; answer where to follow it."""
    body = await request.json()
    try:
        job = await build_report.enqueue_async(account_id=body.get("account_id"))
    except ArgumentError as exc:  # the arguments were checked against the handler: say why
        return JSONResponse({"error": str(exc)}, status_code=422)
    return JSONResponse(
        {"job_id": job.id, "events": f"/conveyor/api/jobs/{job.id}/events"}, status_code=202
    )


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    conveyor.store.migrate()
    yield
    await conveyor.aclose()  # the async connections of this event loop
    conveyor.close()


app = Starlette(
    routes=[
        Route("/reports", request_report, methods=["POST"]),
        Mount("/conveyor", create_app(conveyor, tokens={TOKEN: "admin"})),
    ],
    lifespan=lifespan,
)
