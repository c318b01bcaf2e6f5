"""One job in full: every field, its arguments and result, and its attempt history."""

from __future__ import annotations

import json
from typing import Any

import click

from conveyor._durations import clock, duration, since, until
from conveyor._outbox import DeliveryKind, DeliveryRow
from conveyor.cli import render
from conveyor.cli.deliveries import delivery_status, webhook_doc
from conveyor.cli.health import job_warning
from conveyor.errors import JobNotFoundError
from conveyor.models import Attempt, AttemptOutcome, Job, JobState
from conveyor.store.protocol import Store
from conveyor.why import sequence_text, stall_text


def load_job(store: Store, job_id: int) -> Job:
    """The job with ``job_id``; raises :class:`JobNotFoundError` with a hint."""
    job = store.get_job(job_id)
    if job is None:
        raise JobNotFoundError(
            f"job {job_id} does not exist (it may have been pruned or discarded); "
            "`conveyor jobs list` shows the jobs there are"
        )
    return job


def show_job(store: Store, job: Job, *, as_json: bool) -> None:
    """Print ``job`` with its attempts, as text or as one JSON document."""
    attempts = store.list_attempts(job.id)
    warning = job_warning(store, job.queue, job.name, job.state)
    webhook = _webhook(store, job) if job.meta.get("notify_url") else None
    if as_json:
        render.print_json(
            {
                "job": render.to_dict(job),
                "stalled_for": job.stalled_for(store.now()),
                "waits_for": sequence_text(store, job),
                "attempts": [
                    {**render.to_dict(a), "number": n, "replayed": again}
                    for a, (n, again) in zip(attempts, attempt_numbers(attempts), strict=True)
                ],
                "warning": warning,
                "webhook": None if webhook is None else webhook_doc(webhook),
            }
        )
        return
    now = store.now()
    for line in _fields(job, now, sequence_text(store, job)):
        click.echo(line)
    if job.meta.get("notify_url"):
        click.echo(f"  {'notify':<12}{_notify_status(job, webhook, now)}")
    if warning:
        click.echo(f"\nwarning: {warning}")
    _print_attempts(attempts)
    hints = _hints(job)
    if hints:
        click.echo("\n" + hints)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _fields(job: Job, now: float, waits_for: str | None = None) -> list[str]:
    rows: list[tuple[str, str]] = [
        ("queue", job.queue),
        ("state", str(job.state)),
        ("priority", str(job.priority)),
        ("attempt", f"{job.attempt} of {job.max_attempts}"),
        ("created", f"{clock(job.created_at)} ({since(job.created_at, now)} ago)"),
    ]
    if job.state in (JobState.SCHEDULED, JobState.RETRYING, JobState.QUEUED):
        rows.append(("run at", f"{clock(job.run_at)} ({until(job.run_at, now)})"))
    if job.expires_at is not None:
        rows.append(("start by", clock(job.expires_at)))
    if job.started_at is not None:
        rows.append(("started", clock(job.started_at)))
    if job.finished_at is not None:
        rows.append(
            ("finished", f"{clock(job.finished_at)} "
                         f"({since(job.finished_at, now)} ago)")
        )
    if job.state is JobState.RUNNING:
        rows.append(("worker", job.worker_id or "-"))
        rows.append(("lease until", f"{clock(job.lease_until)}"))
        stalled = stall_text(job, now)
        if stalled:
            rows.append(("stalled", stalled.removeprefix("stalled: ")))
    if job.timeout is not None:
        rows.append(("timeout", duration(job.timeout)))
    for label, value in (
        ("unique key", job.unique_key), ("sequence", job.sequence), ("tenant", job.tenant),
    ):
        if value:
            rows.append((label, value))
    if waits_for:
        rows.append(("waits", waits_for))
    rows.append(("args", "(undecodable)" if job.args is None else _compact(job.args)))
    if job.state is JobState.SUCCEEDED or job.result is not None:
        rows.append(("result", _compact(job.result)))
    if job.progress is not None:
        message = f" {job.progress_message}" if job.progress_message else ""
        rows.append(("progress", f"{job.progress:.0%}{message}"))
    if job.error_type or job.error_message:
        rows.append(("error", f"{job.error_type}: {job.error_message}"))
    if job.meta:
        rows.append(("meta", _compact(job.meta)))
    head = f"job {job.id}  {job.name}"
    return [head, *(f"  {label:<12}{value}" for label, value in rows)]


def _webhook(store: Store, job: Job) -> DeliveryRow | None:
    """The job's webhook delivery (a job has at most one: its newest finish's)."""
    found = store.list_deliveries(kind=DeliveryKind.WEBHOOK, subject=job.id, limit=1)
    return found[0] if found else None


def _notify_status(job: Job, webhook: DeliveryRow | None, now: float) -> str:
    """Where the job's ``notify_url`` webhook stands: delivered, failing, or given up."""
    if webhook is None:
        return "waiting for a worker to send it" if job.state.is_final else "when it finishes"
    return delivery_status(webhook, now)


_UNCHARGED = (AttemptOutcome.RELEASED, AttemptOutcome.SNOOZED)
"""Outcomes that hand the attempt back: the next attempt repeats their number."""


def attempt_numbers(attempts: list[Attempt]) -> list[tuple[int, bool]]:
    """Each attempt's number across the job's whole history, and whether a replay (or retry
    with fresh attempts) started with it.

    The store numbers attempts from 1 again after a replay; counted on here, a job that died
    after 3 attempts and was replayed shows its next one as 4, not as 1 again.
    """
    numbers: list[tuple[int, bool]] = []
    offset = 0
    previous: Attempt | None = None
    for a in attempts:
        again = previous is not None and (
            a.attempt < previous.attempt
            or (a.attempt == previous.attempt and previous.outcome not in _UNCHARGED)
        )
        if again:  # the new life's first attempt follows the last one shown
            offset = numbers[-1][0] + 1 - a.attempt
        numbers.append((offset + a.attempt, again))
        previous = a
    return numbers


def _print_attempts(attempts: list[Attempt]) -> None:
    if not attempts:
        click.echo("\nno attempts yet")
        return
    click.echo("")
    out = render.table("#", "worker", "started", "took", "outcome", "error",
                       title="attempts")
    for a, (number, again) in zip(attempts, attempt_numbers(attempts), strict=True):
        out.add_row(
            f"{number} (replay)" if again else str(number),
            render.escape(render.first_line(a.worker_id, 18) or "-"),
            clock(a.started_at)[11:],
            duration(a.duration),
            str(a.outcome),
            render.escape(render.first_line(
                f"{a.error_type}: {a.error_message}" if a.error_type else a.error_message, 28
            )),
        )
    render.print_table(out)
    for a, (number, _) in zip(attempts, attempt_numbers(attempts), strict=True):
        if not (a.error_type or a.error_message or a.traceback):
            continue
        click.echo(f"attempt {number} ({a.outcome}) on {a.worker_id or '?'}:")
        if a.traceback:
            click.echo(a.traceback.rstrip())
        else:
            click.echo(f"{a.error_type or 'error'}: {a.error_message}")
        click.echo("")


def _hints(job: Job) -> str:
    if job.state is JobState.DEAD:
        return (
            f"replay it with `conveyor dlq replay {job.id}`, or remove it with "
            f"`conveyor dlq discard {job.id}`"
        )
    if job.state is JobState.CANCELLED:
        return f"run it again with `conveyor jobs retry {job.id}`"
    if not job.state.is_final:
        return f"cancel it with `conveyor jobs cancel {job.id}`"
    return ""
