"""`conveyor dlq replay` and `conveyor jobs retry` of a dead stage job: refused, naming the run
to resume (decision 75), on a real SQLite file; the CLI prints the store's error, not a
traceback."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from conveyor.cli import main
from conveyor.models import JobState, RunState
from conveyor.store import open_store
from conveyor.store.contract.run_records import JobTemplate, NewRun, NewStage
from conveyor.store.protocol import ClaimParams, Completion, CompletionKind, ErrorInfo


def test_replaying_a_dead_stage_job_from_the_cli_says_to_resume_its_run(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = open_store(url)
    try:
        store.migrate()
        run_id = store.start_run(
            NewRun("p", json.dumps({"n": 1}), (NewStage("a", JobTemplate("q", "p.a", 1)),))
        )
        params = ClaimParams("w1", ("q",), ("p.a",), 1, 30.0)
        [job] = store.claim_jobs(params)
        dead = Completion(job.id, job.token, CompletionKind.DEAD,
                          error=ErrorInfo("ValueError", "boom"), in_run=True)
        assert store.complete_jobs([dead])[0].accepted
        run = store.get_run(run_id)
        assert run is not None and run.state is RunState.FAILED

        for command in (["dlq", "replay", str(job.id)], ["dlq", "replay", "--all"],
                        ["jobs", "retry", str(job.id)]):
            result = CliRunner().invoke(main, [*command, "--url", url])
            assert result.exit_code != 0, result.output
            assert f"error: job {job.id} is stage `a` of run {run_id}" in result.output
            assert f"conveyor runs resume {run_id}" in result.output
            assert "Traceback" not in result.output
        found = store.get_job(job.id)
        assert found is not None and found.state is JobState.DEAD
    finally:
        store.close()
