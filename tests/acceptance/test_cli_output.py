"""`conveyor jobs output`: what a job emitted, as text or JSON lines."""

from __future__ import annotations

import json

import pytest

from .conftest import Project

pytestmark = pytest.mark.slow

EMIT_APP = '''
from conveyor import Conveyor

app = Conveyor()


@app.job(name="report.render")
def render(ctx, pages: int) -> int:
    for page in range(pages):
        ctx.emit(f"page {page}\\n")
    ctx.emit({"pages": pages})
    return pages
'''


def test_jobs_output_prints_text_and_json_chunks(project: Project) -> None:
    (project.path / "emitapp.py").write_text(EMIT_APP)
    job_id = project.enqueue("report.render", {"pages": 2}, app="emitapp:app")
    assert project.ok("jobs", "output", str(job_id)).out == ""  # nothing emitted yet
    project.burst("emitapp:app")
    assert project.ok("jobs", "output", str(job_id)).out == 'page 0\npage 1\n{"pages": 2}\n'
    lines = project.ok("jobs", "output", str(job_id), "--json", "--follow").out.splitlines()
    assert [json.loads(line)["chunk"] for line in lines] == ["page 0\n", "page 1\n",
                                                              {"pages": 2}]
    assert json.loads(lines[0])["seq"] == 1 and json.loads(lines[0])["attempt"] == 1
    assert "does not exist" in project.fails("jobs", "output", "999").err
