"""The summary ``conveyor demo`` prints at the end: what happened, and how to look closer."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

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


def conveyor_command() -> str:
    """How to run this same ``conveyor`` from the user's shell: ``conveyor`` when that name
    finds it on PATH, else the script beside this Python (``.venv/bin/conveyor``, relative
    when shorter), else ``python -m conveyor``."""
    script = Path(sys.executable).parent / "conveyor"
    found = shutil.which("conveyor")
    if found is not None and script.exists() and Path(found).resolve() == script.resolve():
        return "conveyor"
    if script.exists():
        relative = os.path.relpath(script)
        return shlex.quote(relative if len(relative) < len(str(script)) else str(script))
    return f"{shlex.quote(sys.executable)} -m conveyor"


def _commands(url: str, dead: Sequence[Job], kept: bool) -> None:
    command = conveyor_command()
    example = dead[0].id if dead else 1
    click.echo("")
    if not kept:
        # The folder is gone by the time anyone reads this: no command could find it.
        click.echo("Inspect it yourself: this run's database was removed. Run "
                   f"`{command} demo --keep` to keep it; it then prints commands such as "
                   f"`{command} dlq list` that read it.")
        return
    prefix = f"CONVEYOR_URL={shlex.quote(url)} {command}"
    click.echo("Inspect it yourself (the database is kept):")
    for args in ("queues", "jobs list", "dlq list", f"dlq show {example}",
                 f"dlq replay {example}"):
        click.echo(f"  {prefix} {args}")
    click.echo(f"Run a worker on it: {prefix} worker conveyor.demo.app:app")
