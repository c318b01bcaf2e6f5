"""`conveyor runs show --items N`: a fan-out stage of more than N items is shown without
its outputs, which are not read (decision 109), with how many there are and how to see them;
on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from conveyor.cli import main
from conveyor.store import Store, open_store
from conveyor.store.contract.run_records import ItemPolicy, JobTemplate, NewRun, NewStage
from conveyor.store.protocol import ClaimParams, Completion, CompletionKind


def _finish(store: Store, name: str, result: object) -> None:
    for job in store.claim_jobs(ClaimParams("w1", ("q",), (f"p.{name}",), 100, 30.0)):
        item = json.loads(job.args_json or "{}").get("item", 0)
        value = result if not isinstance(result, int) else result + item
        done = Completion(job.id, job.token, CompletionKind.SUCCEEDED,
                          result_json=json.dumps(value), in_run=True)
        assert store.complete_jobs([done])[0].accepted


def test_runs_show_reads_a_fan_out_output_only_up_to_items(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = open_store(url)
    try:
        store.migrate()
        run_id = store.start_run(NewRun("p", "{}", (
            NewStage("a", JobTemplate("q", "p.a", 1)),
            NewStage("e", JobTemplate("q", "p.e", 1), ("a",), True, ItemPolicy.FAIL),
        )))
        _finish(store, "a", [1, 2, 3])
        [expander] = store.claim_jobs(ClaimParams("w1", ("q",), ("p.e",), 1, 30.0))
        assert store.expand_stage(expander.id, expander.token, ["1", "2", "3"])
        _finish(store, "e", 10)

        def show(*extra: str) -> str:
            result = CliRunner().invoke(main, ["runs", "show", str(run_id), *extra,
                                               "--url", url])
            assert result.exit_code == 0, result.output
            return result.output

        text = show("--items", "2")
        assert "e: 3 item outputs, not read (over --items 2): show them with --items 3" in text
        assert f"GET /api/runs/{run_id}/stages/e/output" in text
        shown = json.loads(show("--items", "2", "--json"))
        assert shown["stages"][1]["output"] is None
        assert shown["stages"][1]["output_left_out"] is True
        assert shown["stages"][0]["output"] == [1, 2, 3]  # a plain stage: whole
        assert "not read" not in show()  # the default reads up to 100
        assert json.loads(show("--json"))["stages"][1]["output"] == [10, 11, 12]
        bad = CliRunner().invoke(main, ["runs", "show", str(run_id), "--items", "-1",
                                        "--url", url])
        assert bad.exit_code == 2 and "--items" in bad.output and "Traceback" not in bad.output
    finally:
        store.close()
