"""The job lifecycle log of a real worker process, in JSON and in text, on both stores."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import Project

pytestmark = pytest.mark.slow

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"

LOG_APP = f'''
from conveyor import Backoff, Conveyor, Permanent
from conveyor.middleware import Middleware


class Traced(Middleware):
    def on_enqueue(self, job):
        job.headers["traceparent"] = "00-{TRACE}-00f067aa0ba902b7-01"


app = Conveyor(middleware=[Traced()])


@app.job(name="logs.greet", queue="mail")
def greet(ctx, who: str) -> str:
    ctx.logger.info("greeting %s", who, extra={{"who": who}})
    return who


@app.job(name="logs.flaky", retries=1, backoff=Backoff(base=0.05, cap=0.05))
async def flaky(ctx) -> None:
    if ctx.attempt == 1:
        raise ValueError("first try fails")


@app.job(name="logs.doomed", retries=3)
def doomed(ctx) -> None:
    raise Permanent("no such customer")


if __name__ == "__main__":
    import json
    ids = [
        greet.enqueue(who="ada", tenant="acme").id, flaky.enqueue().id, doomed.enqueue().id,
    ]
    print(json.dumps(ids))
'''


@pytest.fixture(params=["sqlite", "postgres"])
def logs_project(
    request: pytest.FixtureRequest, project: Project
) -> Project:
    """The project with ``logapp.py``, on SQLite or on PostgreSQL."""
    (project.path / "logapp.py").write_text(LOG_APP)
    if request.param == "postgres":
        make: Callable[[], str] = request.getfixturevalue("fresh_postgres_url")
        project.env["CONVEYOR_URL"] = make()
        project.ok("migrate")
    return project


def _lines(err: str) -> list[dict[str, Any]]:
    """Every stderr line parsed as JSON: each must be one object."""
    parsed = []
    for line in err.splitlines():
        doc = json.loads(line)
        assert isinstance(doc, dict), line
        parsed.append(doc)
    return parsed


def test_json_lines_carry_the_lifecycle_and_the_job_fields(logs_project: Project) -> None:
    project = logs_project
    enqueued = subprocess.run(
        [sys.executable, "logapp.py"], cwd=project.path, env=project.env, capture_output=True,
        text=True, check=True, timeout=60,
    )
    greet, flaky, doomed = json.loads(enqueued.stdout)
    result = project.ok(
        "worker", "logapp:app", "--burst", "--lease", "5", "--log-format", "json"
    )
    lines = _lines(result.err)
    jobs = [d for d in lines if d["logger"] == "conveyor.jobs"]
    events = {(d["job_id"], d["attempt"], d["event"]) for d in jobs}
    assert events == {
        (greet, 1, "started"), (greet, 1, "succeeded"),
        (flaky, 1, "started"), (flaky, 1, "retrying"),
        (flaky, 2, "started"), (flaky, 2, "succeeded"),
        (doomed, 1, "started"), (doomed, 1, "dead"),
    }
    for doc in jobs:
        assert doc["trace_id"] == TRACE
        assert doc["worker_id"] and doc["max_attempts"] >= 1 and doc["job_name"]
        assert doc["queue"] == ("mail" if doc["job_id"] == greet else "default")
        if doc["event"] != "started":
            assert doc["duration"] >= 0
    [greet_end] = [d for d in jobs if d["job_id"] == greet and d["event"] == "succeeded"]
    assert greet_end["tenant"] == "acme" and greet_end["level"] == "INFO"
    [retry] = [d for d in jobs if d["event"] == "retrying"]
    assert retry["error_type"] == "ValueError" and retry["retry_at"].endswith("Z")
    assert retry["level"] == "WARNING"
    assert "retrying at" in retry["message"] and "attempt 1/2" in retry["message"]
    [dead] = [d for d in jobs if d["event"] == "dead"]
    assert dead["error_type"] == "Permanent" and dead["level"] == "ERROR"
    assert "no such customer" in dead["message"]
    # The handler's own record, with the job's fields and its own extra attached.
    [own] = [d for d in lines if d["logger"] == "conveyor.job.logs.greet"]
    assert own["message"] == "greeting ada" and own["who"] == "ada"
    assert own["job_id"] == greet and own["tenant"] == "acme" and own["trace_id"] == TRACE
    assert own["queue"] == "mail" and own["attempt"] == 1


def test_text_lines_name_the_job(project: Project) -> None:
    (project.path / "logapp.py").write_text(LOG_APP)
    greet = project.enqueue("logs.greet", {"who": "ada"}, app="logapp:app")
    err = project.ok("worker", "logapp:app", "--burst", "--lease", "5").err
    started = [line for line in err.splitlines() if "logs.greet started" in line]
    assert len(started) == 1
    assert f"conveyor.jobs: [job {greet}] logs.greet started on queue mail (attempt 1/4)" in (
        started[0]
    )
    assert any(f"[job {greet}] greeting ada" in line for line in err.splitlines())
    assert any(
        f"[job {greet}] logs.greet succeeded in" in line for line in err.splitlines()
    )


def test_a_bad_log_format_is_refused(project: Project) -> None:
    result = project.fails("worker", "shopapp:app", "--burst", "--log-format", "xml")
    assert "log format 'xml' is not one of text, json" in result.err
    result = project.fails(
        "worker", "shopapp:app", "--burst", env={"CONVEYOR_LOG_FORMAT": "yaml"}
    )
    assert "CONVEYOR_LOG_FORMAT" in result.err
