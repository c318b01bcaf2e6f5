"""The summary ``conveyor demo`` prints at the end: what happened, and how to look closer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import click

from conveyor.cli import render
from conveyor.models import AttemptOutcome, Job, JobState
from conveyor.store.protocol import Store


def print_summary(store: Store, job_ids: Sequence[int], *, url: str, elapsed: float,
                  kept: bool) -> None:
    """Print the demo's outcome by category and the commands to inspect the database."""
    jobs = sorted(store.get_jobs(job_ids), key=lambda j: j.id)
    click.echo("")
    click.echo(f"Summary after {elapsed:.1f}s: {len(jobs)} jobs")
    _succeeded(jobs)
    _retried(store, jobs)
    dead = _dead(jobs)
    _scheduled(jobs)
    _unfinished(jobs)
    _commands(url, dead, kept)


def _by_name(jobs: Sequence[Job]) -> str:
    counts = Counter(job.name for job in jobs)
    return ", ".join(f"{n} x {name}" for name, n in sorted(counts.items()))


def _succeeded(jobs: Sequence[Job]) -> None:
    done = [j for j in jobs if j.state is JobState.SUCCEEDED]
    click.echo(f"  succeeded: {len(done)} ({_by_name(done) or 'none'})")
    for job in done:
        if job.name == "demo.build_export" and isinstance(job.result, dict):
            click.echo(f"    job {job.id} export: {job.result.get('rows')} rows in "
                       f"{job.result.get('file')}")


def _retried(store: Store, jobs: Sequence[Job]) -> None:
    again = [j for j in jobs if j.state is JobState.SUCCEEDED and j.attempt > 1]
    if not again:
        return
    click.echo("  retried, then succeeded:")
    for job in again:
        failed = [a for a in store.list_attempts(job.id)
                  if a.outcome in (AttemptOutcome.FAILED, AttemptOutcome.LOST)]
        why = render.first_line(f"{failed[-1].error_type}: {failed[-1].error_message}", 70) \
            if failed else "an earlier attempt failed"
        tries = render.plural(len(failed), "failed attempt")
        click.echo(f"    job {job.id} {job.name}: {tries}, then succeeded on attempt "
                   f"{job.attempt} (last error {why})")


def _dead(jobs: Sequence[Job]) -> list[Job]:
    dead = [j for j in jobs if j.state is JobState.DEAD]
    click.echo(f"  dead-letter queue: {len(dead)} job{'s' if len(dead) != 1 else ''}")
    for job in dead:
        click.echo(f"    job {job.id} {job.name} after {render.plural(job.attempt, 'attempt')}: "
                   f"{job.error_type}: {render.first_line(job.error_message, 90)}")
    return dead


def _scheduled(jobs: Sequence[Job]) -> None:
    for job in jobs:
        if job.name == "demo.send_reminder" and job.started_at is not None:
            waited = job.started_at - job.created_at
            click.echo(f"  scheduled: job {job.id} {job.name} was enqueued with a delay and "
                       f"started {waited:.1f}s later")


def _unfinished(jobs: Sequence[Job]) -> None:
    left = [j for j in jobs if not j.state.is_final]
    if left:
        states = Counter(str(j.state) for j in left)
        click.echo(f"  not finished: {len(left)} ("
                   + ", ".join(f"{n} {s}" for s, n in sorted(states.items())) + ")")


def _commands(url: str, dead: Sequence[Job], kept: bool) -> None:
    prefix = f"CONVEYOR_URL={url}"
    example = dead[0].id if dead else 1
    click.echo("")
    click.echo("Inspect it yourself:")
    for command in ("conveyor queues", "conveyor jobs list", "conveyor dlq list",
                    f"conveyor dlq show {example}", f"conveyor dlq replay {example}"):
        click.echo(f"  {prefix} {command}")
    if kept:
        click.echo(f"(kept; run a worker on it with `{prefix} conveyor worker "
                   "conveyor.demo.app:app`)")
    else:
        click.echo("(the demo database was removed; run `conveyor demo --keep` to keep it and "
                   "try these)")
