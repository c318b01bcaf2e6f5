"""`conveyor usage`: each job name's attempts, time and reported units, as a table or JSON."""

from __future__ import annotations

import json

import pytest

from .conftest import Project

pytestmark = pytest.mark.slow

USAGE_APP = '''
from conveyor import Conveyor

app = Conveyor()


@app.job(name="llm.summarize", queue="ai")
def summarize(ctx, words: int) -> None:
    ctx.usage(tokens=words * 2, cost=words * 0.001)


@app.job(name="llm.translate", queue="ai")
async def translate(ctx, words: int) -> None:
    ctx.usage(tokens=words)
'''


def test_usage_sums_each_job_name(project: Project) -> None:
    (project.path / "usageapp.py").write_text(USAGE_APP)
    assert "no attempts ended in the last 1d" in project.ok("usage").out
    for words in (100, 200):
        project.enqueue("llm.summarize", {"words": words}, app="usageapp:app")
    project.enqueue("llm.translate", {"words": 50}, app="usageapp:app")
    project.burst("usageapp:app")
    table = project.ok("usage").out
    assert "llm.summarize" in table and "600" in table and "0.3" in table
    doc = json.loads(project.ok("usage", "--by", "queue", "--since", "1h", "--json").out)
    (ai,) = doc["groups"]
    assert (ai["key"], ai["attempts"], ai["jobs"]) == ("ai", 3, 3)
    assert ai["units"] == {"cost": pytest.approx(0.3), "tokens": 650.0}
    assert "--since" in project.fails("usage", "--since", "soon").err
    assert "--since must be more than zero" in project.fails("usage", "--since", "0s").err
