"""Conveyor inside a FastAPI app: jobs enqueued in the request's transaction, the dashboard
mounted at /conveyor, and a job's result followed over Server-Sent Events.

Run it (from the repository root, with `pip install -e '.[web]' fastapi`):

    CONVEYOR_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') \
        uvicorn examples.fastapi_app:app                   # the web app and the dashboard
    conveyor worker examples.fastapi_app:conveyor          # in another terminal
    curl -s -X POST localhost:8000/photos -H 'Content-Type: application/json' \
        -d '{"name": "cat.jpg", "width": 4000}'
    curl -sN localhost:8000/conveyor/api/jobs/1/events -H "Authorization: Bearer $CONVEYOR_TOKEN"

The app's own table (photos) lives in the same SQLite file as Conveyor's, so a photo and the
job that makes its thumbnail are written in one transaction: both exist, or neither. On
PostgreSQL the same holds with a psycopg connection (see docs/postgres.md).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel

from conveyor import Conveyor
from conveyor.store import sqlite_path
from conveyor.web import create_app, random_token

conveyor = Conveyor()  # CONVEYOR_URL, else sqlite:///conveyor.db
TOKEN = os.environ.get("CONVEYOR_TOKEN") or random_token()


@conveyor.job(queue="images", retries=3)
def make_thumbnail(ctx: Any, photo_id: int, width: int) -> dict[str, int]:
    """Pretend to resize the photo; return the thumbnail's size."""
    return {"photo_id": photo_id, "width": min(width, 256)}


def database() -> Iterator[sqlite3.Connection]:
    """One connection and one transaction per request: committed when the route returns
    (before the response is sent: ``scope="function"`` below), rolled back if it raises."""
    path = sqlite_path(conveyor.url)
    assert path is not None, "this example keeps its own table in Conveyor's SQLite file"
    # FastAPI may run a sync dependency and the route on different threads of its pool.
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        with conn:  # commit on success, roll back on an exception
            yield conn
    finally:
        conn.close()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    conveyor.store.migrate()  # Conveyor's tables (idempotent), then the app's own
    for db in database():
        db.execute("CREATE TABLE IF NOT EXISTS photos (id INTEGER PRIMARY KEY, name TEXT)")
    yield
    await conveyor.aclose()
    conveyor.close()


app = FastAPI(lifespan=lifespan)
app.mount("/conveyor", create_app(conveyor, tokens={TOKEN: "admin"}))


class Photo(BaseModel):
    name: str
    width: int


Database = Annotated[sqlite3.Connection, Depends(database, scope="function")]


@app.post("/photos", status_code=201)
def upload(photo: Photo, db: Database) -> dict[str, Any]:
    """Store the photo and enqueue its thumbnail in the same transaction."""
    photo_id = db.execute("INSERT INTO photos (name) VALUES (?)", (photo.name,)).lastrowid
    assert photo_id is not None
    job = make_thumbnail.enqueue(photo_id=photo_id, width=photo.width, connection=db)
    return {"photo_id": photo_id, "job_id": job.id,
            "events": f"/conveyor/api/jobs/{job.id}/events"}


@app.get("/photos/{photo_id}")
def show(photo_id: int, db: Database) -> dict[str, Any]:
    """A photo, if its upload committed."""
    row = db.execute("SELECT id, name FROM photos WHERE id = ?", (photo_id,)).fetchone()
    return {"found": row is not None}
