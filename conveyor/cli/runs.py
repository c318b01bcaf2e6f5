"""``conveyor runs list | show | cancel | resume``: pipeline runs from the command line."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from conveyor import _durations as durations
from conveyor.cli import render
from conveyor.cli.audit import operator_name
from conveyor.cli.options import Target, json_option, target_options
from conveyor.errors import ConfigurationError, RunNotFoundError
from conveyor.models import RunState, StageState
from conveyor.pipelines.handle import RunHandle
from conveyor.pipelines.resume import UNSET
from conveyor.store.contract.run_records import RunDetail, RunFilter, StageRunInfo
from conveyor.store.protocol import Store

RUN_STATE_CHOICE = click.Choice([s.value for s in RunState], case_sensitive=False)
RUN_STYLES = {
    RunState.RUNNING: "cyan",
    RunState.SUCCEEDED: "green",
    RunState.FAILED: "bold red",
    RunState.CANCELLED: "dim",
}
STAGE_STYLES = {
    StageState.WAITING: "yellow",
    StageState.ACTIVE: "cyan",
    StageState.SUCCEEDED: "green",
    StageState.FAILED: "bold red",
    StageState.CANCELLED: "dim",
}


SHOW_OUTPUTS = 100
"""Item outputs ``runs show`` reads per fan-out stage unless ``--items`` says otherwise."""


@click.group()
def runs() -> None:
    """List, inspect, cancel and resume pipeline runs."""


@runs.command("list")
@click.option("--pipeline", help="Only runs of this pipeline.")
@click.option("--state", "states", multiple=True, type=RUN_STATE_CHOICE,
              help="Only runs in this state (repeat for several).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000),
              help="At most this many runs.")
@click.option("--before-id", type=int, help="Only ids below this one (next page).")
@json_option
@target_options
def list_runs(target: Target, pipeline: str | None, states: tuple[str, ...], limit: int,
              before_id: int | None, as_json: bool) -> None:
    """List runs, newest first."""
    store = target.store()
    flt = RunFilter(pipeline=pipeline, states=tuple(RunState(s.lower()) for s in states),
                    before_id=before_id, limit=limit)
    found = store.list_runs(flt)
    next_before = found[-1].id if len(found) == limit else None
    if as_json:
        render.print_json({"runs": [render.to_dict(r) for r in found],
                           "next_before_id": next_before})
        return
    if not found:
        click.echo("no runs match")
        return
    now = store.now()
    out = render.table("id", "pipeline", "state", "stages", "age", "error")
    out.columns[0].justify = "right"
    for run in found:
        out.add_row(
            str(run.id),
            render.escape(render.first_line(run.pipeline, 24)),
            _styled(run.state),
            f"{run.stages_done}/{run.stages_total}",
            durations.since(run.created_at, now),
            render.escape(render.first_line(run.error, 40)),
        )
    render.print_table(out)
    if next_before is not None:
        click.echo(f"more with --before-id {next_before}")


@runs.command("show")
@click.argument("run_id", type=int)
@click.option("--items", default=SHOW_OUTPUTS, show_default=True,
              type=click.IntRange(0, None),
              help="Read a fan-out stage's output only if it has at most this many items "
                   "(a larger one is left out and the command says how to page it).")
@json_option
@target_options
def show(target: Target, run_id: int, items: int, as_json: bool) -> None:
    """Show one run: its input, result or error, and every stage with its items and output."""
    run = load_run(target.store(), run_id, outputs=items)
    if as_json:
        render.print_json(run_dict(run))
        return
    click.echo(f"run {run.id} of {run.pipeline}: {run.state}"
               + (f" (resumed {render.plural(run.resumes, 'time')})" if run.resumes else ""))
    click.echo(f"input: {render.first_line(run.input_json, 200)}")
    if run.error:
        click.echo(f"error: {run.error}")
    if run.result_json is not None:
        click.echo(f"result: {render.first_line(run.result_json, 200)}")
    out = render.table("stage", "after", "state", "items", "took", "note")
    for stage in run.stages:
        out.add_row(
            render.escape(stage.stage),
            render.escape(", ".join(stage.parents) or "-"),
            f"[{STAGE_STYLES[stage.state]}]{stage.state}[/]",
            _items(stage),
            durations.duration(_took(stage)),
            render.escape(render.first_line(stage.error or stage.output_json, 50)
                          or _left_out(stage)),
        )
    render.print_table(out)
    for stage in run.stages:
        if stage.output_left_out:
            click.echo(f"stage {stage.stage}: {stage.items_total - stage.items_failed:,} item "
                       f"outputs, not read (over --items {items}): show them with --items "
                       f"{stage.items_total}, or page them with GET /api/runs/{run.id}/stages/"
                       f"{stage.stage}/output?offset=0&limit=100")


@runs.command("cancel")
@click.argument("run_id", type=int)
@target_options
def cancel(target: Target, run_id: int) -> None:
    """Cancel a running run: queued stage jobs are cancelled, running ones asked to stop."""
    store = target.store()
    run = load_run(store, run_id)
    if store.cancel_run(run_id, by=operator_name() or "cli"):
        click.echo(f"cancelled: run {run_id}")
    else:
        click.echo(f"run {run_id} is {run.state}; nothing to cancel")


@runs.command("resume")
@click.argument("run_id", type=int)
@click.option("--from", "from_", metavar="STAGE",
              help="Re-run from this stage (and everything after it).")
@click.option("--input", "input_path", metavar="FILE|-",
              help="JSON replacing the --from stage's input ('-' reads standard input).")
@click.option("--dry-run", is_flag=True, help="Say what would re-run and be reused; write nothing.")
@json_option
@target_options
def resume(target: Target, run_id: int, from_: str | None, input_path: str | None,
           dry_run: bool, as_json: bool) -> None:
    """Re-run a run's failed or cancelled stages and their descendants, reusing every stored
    output upstream. Needs your app (--app): the stages' code checks the stored outputs."""
    app = target.app()
    run = load_run(target.store(), run_id)
    given = UNSET if input_path is None else read_input(input_path)
    plan = RunHandle(app, run.id, run.pipeline).resume(
        from_=from_, input=given, dry_run=dry_run, by=operator_name() or "cli"
    )
    if as_json:
        render.print_json(plan.to_dict())
        return
    verb = "would re-run" if dry_run else "re-running"
    click.echo(f"{'dry run: ' if dry_run else 'resumed '}run {run_id}: {verb} "
               f"{', '.join(plan.rerun)}; reusing {', '.join(plan.reuse) or 'nothing'}")
    if dry_run:
        click.echo("nothing was written")


def read_input(path: str) -> Any:
    """The JSON document in ``path`` (``-``: standard input)."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as exc:
        raise ConfigurationError(f"--input {path}: cannot read it ({exc.strerror})") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"--input {path}: not valid JSON ({exc}); give the stage's input as one JSON document"
        ) from exc


def load_run(store: Store, run_id: int, outputs: int | None = 0) -> RunDetail:
    """The run, or :class:`RunNotFoundError` (exit 2 with its message). ``outputs``: item
    outputs read per fan-out stage (0, the default: none, for commands that need states)."""
    run = store.get_run(run_id, outputs=outputs)
    if run is None:
        raise RunNotFoundError(f"run {run_id} does not exist (it may have been pruned)")
    return run


def run_dict(run: RunDetail) -> dict[str, Any]:
    """A run as plain data, with its JSON fields decoded."""
    out = render.to_dict(run)
    out["input"] = json.loads(out.pop("input_json"))
    result = out.pop("result_json")
    out["result"] = None if result is None else json.loads(result)
    out["graph"] = json.loads(out.pop("graph_json"))
    stages = []
    for stage in run.stages:
        data = render.to_dict(stage)
        output, override = data.pop("output_json"), data.pop("override_json")
        data["output"] = None if output is None else json.loads(output)
        data["override"] = None if override is None else json.loads(override)
        data["template"] = render.to_dict(stage.template)
        stages.append(data)
    out["stages"] = stages
    return out


def _styled(state: RunState) -> str:
    return f"[{RUN_STYLES[state]}]{state}[/]"


def _left_out(stage: StageRunInfo) -> str:
    return "(output not read: see below)" if stage.output_left_out else ""


def _items(stage: StageRunInfo) -> str:
    if not stage.fan_out:
        return "-"
    done = stage.items_total - stage.items_left
    failed = f", {stage.items_failed} failed" if stage.items_failed else ""
    return f"{done}/{stage.items_total}{failed}"


def _took(stage: StageRunInfo) -> float | None:
    if stage.started_at is None or stage.finished_at is None:
        return None
    return stage.finished_at - stage.started_at
