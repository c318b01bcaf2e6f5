"""Conveyor inside a Flask app: a route enqueues in its own database transaction, the
dashboard (an ASGI app) is mounted at /conveyor through a2wsgi, and a job's result is
followed over Server-Sent Events.

Run it (from the repository root, with `pip install -e '.[web]' flask a2wsgi`):

    export CONVEYOR_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    flask --app examples.flask_app run --port 8000
    conveyor worker examples.flask_app:conveyor            # in another terminal
    curl -s -X POST localhost:8000/signups -H 'Content-Type: application/json' \
        -d '{"email": "ada@example.com"}'
    curl -sN localhost:8000/conveyor/api/jobs/1/events -H "Authorization: Bearer $CONVEYOR_TOKEN"

Each event stream holds a server thread while it is open: under a WSGI server, give it
threads enough (or serve the dashboard on its own with `conveyor dashboard`).
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from a2wsgi import ASGIMiddleware
from flask import Flask, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from conveyor import ArgumentError, Conveyor
from conveyor.store import sqlite_path
from conveyor.web import create_app, random_token

conveyor = Conveyor()  # CONVEYOR_URL, else sqlite:///conveyor.db
TOKEN = os.environ.get("CONVEYOR_TOKEN") or random_token()


@conveyor.job(queue="emails", retries=5)
def send_welcome(ctx: Any, user_id: int, email: str) -> str:
    """Pretend to send the welcome email."""
    return f"welcomed {email}"


def connect() -> sqlite3.Connection:
    """A connection to Conveyor's SQLite file, where the app keeps its users too."""
    path = sqlite_path(conveyor.url)
    assert path is not None, "this example keeps its own table in Conveyor's SQLite file"
    return sqlite3.connect(path)


def setup() -> None:
    """Conveyor's tables, then the app's own."""
    conveyor.store.migrate()
    conn = connect()
    try:
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT UNIQUE)"
            )
    finally:
        conn.close()


app = Flask(__name__)
setup()


@app.post("/signups")
def sign_up() -> tuple[dict[str, Any], int]:
    """Create the user and enqueue the welcome in one transaction: both or neither."""
    email = (request.get_json(silent=True) or {}).get("email")
    conn = connect()
    try:
        with conn:  # commit when the block ends, roll back if it raises
            user_id = conn.execute("INSERT INTO users (email) VALUES (?)", (email,)).lastrowid
            job = send_welcome.enqueue(user_id=user_id, email=email, connection=conn)
    except ArgumentError as exc:  # e.g. no email: the job's arguments did not fit
        return {"error": str(exc)}, 422
    except sqlite3.IntegrityError:
        return {"error": f"{email!r} has already signed up"}, 409
    finally:
        conn.close()
    return {"user_id": user_id, "job_id": job.id,
            "events": f"/conveyor/api/jobs/{job.id}/events"}, 201


# The dashboard is ASGI; a2wsgi runs it inside this WSGI app, under /conveyor. (a2wsgi types
# ASGI apps more narrowly than Starlette declares them, hence the ignores.)
dashboard = ASGIMiddleware(create_app(conveyor, tokens={TOKEN: "admin"}))  # type: ignore[arg-type]
app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
    app.wsgi_app, {"/conveyor": dashboard}  # type: ignore[dict-item]
)
