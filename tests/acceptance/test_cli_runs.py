"""``conveyor runs`` from the shell: list, show, cancel and resume a pipeline run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import Project

pytestmark = pytest.mark.slow

PIPE_APP = '''
from pathlib import Path

from pydantic import BaseModel

from conveyor import Conveyor, Permanent

app = Conveyor()


class Total(BaseModel):
    n: int
    total: int


totals = app.pipeline("totals")


@totals.stage(retries=0)
def load(ctx, n: int) -> list[int]:
    return list(range(n))


@totals.stage(after=load, retries=0)
def add(ctx, numbers: list[int]) -> Total:
    if Path("broken").exists():
        raise Permanent("add is broken")
    return Total(n=len(numbers), total=sum(numbers))


@totals.stage(after=add)
def report(ctx, total: Total) -> str:
    return f"{total.n} numbers add up to {total.total}"
'''


def start_run(project: Project, n: int) -> int:
    """Start a run the way an application does: ``pipeline.start(...)`` in Python."""
    code = f"import pipeapp; print(pipeapp.totals.start(n={n}).id)"
    done = subprocess.run([sys.executable, "-c", code], cwd=project.path, env=project.env,
                          capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout)


def test_a_failed_run_is_shown_resumed_from_a_stage_with_new_input_and_finishes(
    project: Project,
) -> None:
    (project.path / "pipeapp.py").write_text(PIPE_APP)
    (project.path / "broken").write_text("")
    run_id = start_run(project, 4)
    project.burst("pipeapp:app")

    [listed] = project.ok("runs", "list", "--json").json()["runs"]
    assert (listed["id"], listed["pipeline"], listed["state"]) == (run_id, "totals", "failed")
    assert "add is broken" in listed["error"]
    table = project.ok("runs", "list").out
    assert "totals" in table and "failed" in table

    shown = project.ok("runs", "show", str(run_id), "--json").json()
    assert [(s["stage"], s["state"]) for s in shown["stages"]] == [
        ("load", "succeeded"), ("add", "failed"), ("report", "cancelled")
    ]
    assert shown["stages"][0]["output"] == [0, 1, 2, 3]
    text = project.ok("runs", "show", str(run_id)).out
    assert f"run {run_id} of totals: failed" in text and "add is broken" in text

    dry = project.ok("runs", "resume", str(run_id), "--app", "pipeapp:app", "--dry-run").out
    assert "would re-run add, report; reusing load" in dry and "nothing was written" in dry
    assert project.ok("runs", "show", str(run_id), "--json").json()["state"] == "failed"

    bad = project.fails("runs", "resume", str(run_id), "--app", "pipeapp:app", "--from", "add",
                        "--input", "-", stdin="[1, 2, 'x']")
    assert "--input -: not valid JSON" in bad.err
    wrong = project.fails("runs", "resume", str(run_id), "--app", "pipeapp:app", "--from", "add",
                          "--input", "-", stdin='[1, 2, "x"]')
    assert "add" in wrong.err and "valid integer" in wrong.err

    (project.path / "broken").unlink()
    plan = project.ok("runs", "resume", str(run_id), "--app", "pipeapp:app", "--from", "add",
                      "--input", "-", "--json", stdin="[10, 20, 30]").json()
    assert plan == {"run_id": run_id, "pipeline": "totals", "rerun": ["add", "report"],
                    "reuse": ["load"], "from": "add", "input": [10, 20, 30], "applied": True}
    project.burst("pipeapp:app")
    done = project.ok("runs", "show", str(run_id), "--json").json()
    assert done["state"] == "succeeded" and done["resumes"] == 1
    assert done["result"] == "3 numbers add up to 60"

    again = project.fails("runs", "resume", str(run_id), "--app", "pipeapp:app")
    assert "nothing failed to resume" in again.err


def test_cancel_and_the_errors_a_user_can_make(project: Project) -> None:
    (project.path / "pipeapp.py").write_text(PIPE_APP)
    run_id = start_run(project, 2)
    assert project.ok("runs", "cancel", str(run_id)).out.strip() == f"cancelled: run {run_id}"
    assert "nothing to cancel" in project.ok("runs", "cancel", str(run_id)).out
    assert project.ok("runs", "show", str(run_id), "--json").json()["state"] == "cancelled"
    assert json.loads(project.ok("runs", "list", "--state", "running", "--json").out)["runs"] == []

    missing = project.fails("runs", "show", "999")
    assert "run 999 does not exist" in missing.err
    no_app = project.fails("runs", "resume", str(run_id))
    assert "--app" in no_app.err
    unknown = project.fails("runs", "resume", str(run_id), "--app", "pipeapp:app",
                            "--from", "nope")
    assert "no stage 'nope'" in unknown.err
