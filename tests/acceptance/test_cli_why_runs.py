"""``conveyor jobs why`` on pipeline runs: a stage job says which run and stage it is, and
``--run``/``--stage`` say what a run's unfinished stages wait for."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conveyor.testing import eventually

from .conftest import Project

pytestmark = pytest.mark.slow

WHY_APP = '''
from conveyor import Conveyor, Permanent, Rate

app = Conveyor()
ingest = app.pipeline("ingest")


@ingest.stage(queue="fetch")
def fetch(ctx, doc_id: int) -> list[str]:
    return [f"chunk {n}" for n in range(5)]


# Three starts an hour: the expander and two items run, the other three wait for the budget.
@ingest.stage(after=fetch, each=lambda chunks: chunks, on_item_failure="skip", retries=0,
              queue="embed", rate=Rate(3, per="1h"))
def embed(ctx, chunk: str) -> int:
    if chunk == "chunk 0":
        raise Permanent("chunk 0 cannot be embedded")
    return len(chunk)


@ingest.stage(after=embed, queue="index")
def index(ctx, sizes: list[int]) -> int:
    return sum(sizes)
'''


def test_jobs_why_explains_a_waiting_stage_and_a_stage_job(project: Project) -> None:
    (project.path / "whyapp.py").write_text(WHY_APP)
    code = "import whyapp; print(whyapp.ingest.start(doc_id=7).id)"
    done = subprocess.run([sys.executable, "-c", code], cwd=project.path, env=project.env,
                          capture_output=True, text=True, timeout=60, check=True)
    run_id = int(done.stdout)
    # A live worker (a burst worker would wait for the rate budget instead of exiting).
    project.start("worker", "whyapp:app", "--queues", "fetch,embed,index")

    def embedded() -> bool:
        shown = project.ok("runs", "show", str(run_id), "--json").json()
        embed = shown["stages"][1]
        return (embed["items_total"], embed["items_left"], embed["items_failed"]) == (5, 3, 1)

    eventually(embedded, timeout=60, interval=0.3)

    out = project.ok("jobs", "why", "--run", str(run_id)).out
    assert "waiting for 3 of 5 items of `embed`; 1 failed, policy skip" in out, out
    assert "stage `index` is waiting for 3 of 5 items of `embed`; 1 failed, policy skip" in out
    assert "rate_spent" in out  # the next item's own reason: the rate budget

    stage = project.ok("jobs", "why", "--run", str(run_id), "--stage", "index", "--json").json()
    assert stage["run_id"] == run_id and stage["stage"] == "index"
    assert [r["code"] for r in stage["reasons"]] == ["waiting"]

    shown = project.ok("runs", "show", str(run_id), "--json").json()
    item_job = shown["stages"][1]["job_ids"][-1]
    reasons = project.ok("jobs", "why", str(item_job), "--json").json()["reasons"]
    assert reasons[0]["code"] == "stage"
    assert f"item 4 of fan-out stage `embed` (5 items) of run {run_id}" in reasons[0]["message"]
    assert "rate_spent" in [r["code"] for r in reasons]

    missing = project.fails("jobs", "why", "--run", "999", code=1)
    assert "run 999 does not exist" in missing.err
    no_stage = project.fails("jobs", "why", "--run", str(run_id), "--stage", "nope", code=1)
    assert "no stage 'nope'" in no_stage.err
    usage = project.fails("jobs", "why")
    assert "give a JOB_ID, or --run RUN" in usage.err
