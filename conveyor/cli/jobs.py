"""``conveyor jobs list | show | output | why | retry | cancel``."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import click

from conveyor import _durations as durations
from conveyor.cli import render
from conveyor.cli.audit import jobs_target, record
from conveyor.cli.detail import load_job, show_job
from conveyor.cli.options import Target, json_option, target_options
from conveyor.errors import ConfigurationError
from conveyor.models import Job, JobState
from conveyor.store.protocol import JobFilter, Store
from conveyor.why import explain, explain_run, explain_stage

STATE_CHOICE = click.Choice([s.value for s in JobState], case_sensitive=False)


@click.group()
def jobs() -> None:
    """List, inspect, explain ("why is it waiting?"), retry and cancel jobs."""


@jobs.command("list")
@click.option("--state", "states", multiple=True, type=STATE_CHOICE,
              help="Only jobs in this state (repeat for several).")
@click.option("--queue", help="Only jobs of this queue.")
@click.option("--name", help="Only jobs of this job name.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000),
              help="At most this many jobs.")
@click.option("--before-id", type=int, help="Only ids below this one (next page).")
@json_option
@target_options
def list_jobs(target: Target, states: tuple[str, ...], queue: str | None, name: str | None,
              limit: int, before_id: int | None, as_json: bool) -> None:
    """List jobs, newest first."""
    store = target.store()
    flt = JobFilter(states=tuple(JobState(s.lower()) for s in states), queue=queue, name=name,
                    before_id=before_id, limit=limit)
    found = store.list_jobs(flt)
    next_before = found[-1].id if len(found) == limit else None
    if as_json:
        render.print_json({"jobs": [render.to_dict(j) for j in found],
                           "next_before_id": next_before})
        return
    if not found:
        click.echo("no jobs match")
        return
    print_job_table(found, store.now())
    if next_before is not None:
        click.echo(f"more with --before-id {next_before}")


def print_job_table(found: Sequence[Job], now: float) -> None:
    """The jobs table shared by ``jobs list``."""
    out = render.table("id", "name", "queue", "state", "try", "age", "note")
    out.columns[0].justify = "right"
    for job in found:
        out.add_row(
            str(job.id),
            render.escape(render.first_line(job.name, 24)),
            render.escape(render.first_line(job.queue, 10)),
            render.state(job.state),
            f"{job.attempt}/{job.max_attempts}",
            durations.since(job.created_at, now),
            render.escape(_note(job, now)),
        )
    render.print_table(out)


def _note(job: Job, now: float) -> str:
    still = job.stalled_for(now)
    if still is not None:
        return f"stalled {durations.duration(still)}"
    if job.state is JobState.RUNNING and job.progress is not None:
        return render.first_line(f"{job.progress:.0%} {job.progress_message or ''}", 22)
    if job.state in (JobState.SCHEDULED, JobState.RETRYING):
        return f"runs {durations.until(job.run_at, now)}"
    if job.state in (JobState.DEAD, JobState.RETRYING) or job.error_type:
        return render.error_of(job, 22)
    return ""


@jobs.command("show")
@click.argument("job_id", type=int)
@json_option
@target_options
def show(target: Target, job_id: int, as_json: bool) -> None:
    """Show one job: every field, arguments, result, progress and each attempt's traceback."""
    store = target.store()
    show_job(store, load_job(store, job_id), as_json=as_json)


@jobs.command("output")
@click.argument("job_id", type=int)
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing as the job emits, until it is final.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per chunk (seq, attempt, at, chunk) instead of the text.")
@target_options
def output(target: Target, job_id: int, follow: bool, as_json: bool) -> None:
    """Print what the job emitted with ctx.emit: text chunks as they are, other values as a
    JSON line. With --follow, wait for more until the job is final."""
    store = target.store()
    load_job(store, job_id)  # a clear error for an unknown job
    after = 0
    while True:
        job = load_job(store, job_id)  # before the chunks: final means every chunk is stored
        while chunks := store.read_output(job_id, after):
            for chunk in chunks:
                value = json.loads(chunk.chunk_json)
                if as_json:
                    click.echo(json.dumps({"seq": chunk.seq, "attempt": chunk.attempt,
                                           "at": chunk.at, "chunk": value}))
                else:
                    click.echo(value if isinstance(value, str) else json.dumps(value),
                               nl=not isinstance(value, str))
            after = chunks[-1].seq
        if not follow or job.state.is_final:
            return
        time.sleep(0.3)


@jobs.command("why")
@click.argument("job_id", type=int, required=False)
@click.option("--run", "run_id", type=int, metavar="RUN",
              help="Explain a pipeline run instead: what each unfinished stage waits for.")
@click.option("--stage", metavar="STAGE", help="With --run: only this stage.")
@json_option
@target_options
def why(target: Target, job_id: int | None, run_id: int | None, stage: str | None,
        as_json: bool) -> None:
    """Say why a job is not running: its schedule, a paused queue, workers, jobs ahead.

    A stage job of a pipeline run also says which run, stage and item it is. With
    ``--run RUN`` (and ``--stage STAGE``), say what a run's unfinished stages wait for:
    "waiting for 3 of 10,000 items of `embed`; 2 failed, policy skip". Exits 1 when the
    job, run or stage does not exist.
    """
    if (job_id is None) == (run_id is None):
        raise ConfigurationError("give a JOB_ID, or --run RUN (and optionally --stage STAGE)")
    if stage is not None and run_id is None:
        raise ConfigurationError("--stage needs --run RUN")
    store = target.store()
    if run_id is not None:
        reasons = (explain_run(store, run_id) if stage is None
                   else explain_stage(store, run_id, stage))
        subject: dict[str, object] = {"run_id": run_id, "stage": stage}
    else:
        assert job_id is not None
        reasons = explain(store, job_id)
        subject = {"job_id": job_id}
    missing = reasons[0].code == "not_found"
    if as_json:
        render.print_json({**subject,
                           "reasons": [{"code": r.code, "message": r.message} for r in reasons]})
    elif missing:
        click.echo(reasons[0].message, err=True)
    else:
        for reason in reasons:
            click.echo(f"{reason.code}: {reason.message}")
    if missing:
        click.get_current_context().exit(1)


@jobs.command("retry")
@click.argument("job_ids", type=int, nargs=-1, required=True)
@target_options
def retry(target: Target, job_ids: tuple[int, ...]) -> None:
    """Run jobs again now: dead and cancelled ones with fresh attempts (history is kept)."""
    store = target.store()
    changed = store.retry_jobs(JobFilter(ids=job_ids))
    if changed:
        record(store, "retry", jobs_target(changed), count=len(changed))
    report(store, job_ids, changed, verb="queued again", nothing="nothing to retry")


@jobs.command("cancel")
@click.argument("job_ids", type=int, nargs=-1, required=True)
@target_options
def cancel(target: Target, job_ids: tuple[int, ...]) -> None:
    """Cancel jobs that have not finished; a running attempt's outcome is then ignored."""
    store = target.store()
    changed = store.cancel_jobs(JobFilter(ids=job_ids))
    if changed:
        record(store, "cancel", jobs_target(changed), count=len(changed))
    report(store, job_ids, changed, verb="cancelled", nothing="nothing to cancel")


def report(store: Store, asked: Sequence[int], changed: Sequence[int], *, verb: str,
           nothing: str) -> None:
    """Say what changed and, for every other id asked for, why not; exit 1 if one is missing."""
    done = set(changed)
    rest = [i for i in dict.fromkeys(asked) if i not in done]
    states = {job.id: job.state for job in store.get_jobs(rest)} if rest else {}
    if done:
        ids = ", ".join(str(i) for i in sorted(done))
        click.echo(f"{verb}: job{'s' if len(done) > 1 else ''} {ids}")
    missing = False
    for job_id in rest:
        if job_id in states:
            click.echo(f"job {job_id} is {states[job_id]}; {nothing}")
        else:
            click.echo(f"job {job_id} does not exist", err=True)
            missing = True
    if missing:
        click.get_current_context().exit(1)
