"""``conveyor dlq list | show | replay | discard``: the dead-letter queue.

A dead job failed for good (a permanent error, or all its attempts spent). Replay puts it back
in ``queued`` with fresh attempts and keeps its history; discard deletes it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from conveyor import _durations as durations
from conveyor._args import RESERVED
from conveyor._durations import to_seconds
from conveyor.cli import render
from conveyor.cli.audit import jobs_target, record
from conveyor.cli.detail import load_job, show_job
from conveyor.cli.jobs import report
from conveyor.cli.options import Target, json_option, target_options
from conveyor.errors import ArgumentError, ConfigurationError, ConveyorError
from conveyor.models import JobState
from conveyor.store.protocol import JobFilter, Replay, Store

Command = Callable[..., Any]
DEAD = (JobState.DEAD,)


def filter_options(fn: Command) -> Command:
    """Add the dead-job filters shared by every ``dlq`` command."""
    options = [
        click.option("--queue", help="Only dead jobs of this queue."),
        click.option("--name", help="Only dead jobs of this job name."),
        click.option("--error-type", help="Only dead jobs whose last error has this type, "
                                          "e.g. ValueError."),
        click.option("--older-than", metavar="DURATION",
                     help="Only jobs that died more than this long ago, e.g. 1h."),
        click.option("--newer-than", metavar="DURATION",
                     help="Only jobs that died less than this long ago, e.g. 1d."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_filter(queue: str | None, name: str | None, error_type: str | None,
                 older_than: str | None, newer_than: str | None, *,
                 ids: tuple[int, ...] = (), limit: int | None = None) -> JobFilter:
    """A filter over dead jobs from the command-line options."""
    return JobFilter(
        states=DEAD,
        queue=queue,
        name=name,
        error_type=error_type,
        ids=ids,
        older_than=None if older_than is None else to_seconds(older_than, what="--older-than"),
        newer_than=None if newer_than is None else to_seconds(newer_than, what="--newer-than"),
        limit=limit,
    )


@click.group()
def dlq() -> None:
    """Read, replay and discard dead jobs."""


@dlq.command("list")
@filter_options
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000),
              help="At most this many jobs.")
@json_option
@target_options
def list_dead(target: Target, limit: int, as_json: bool, **filters: Any) -> None:
    """List dead jobs, newest first, with the error that killed them."""
    store = target.store()
    flt = build_filter(**filters, limit=limit)
    found = store.list_jobs(flt)
    total = store.count_jobs(flt)
    if as_json:
        render.print_json({"jobs": [render.to_dict(j) for j in found], "total": total})
        return
    if not found:
        click.echo("the dead-letter queue is empty" if not any(filters.values())
                   else "no dead jobs match")
        return
    now = store.now()
    out = render.table("id", "name", "queue", "tries", "error", "died")
    out.columns[0].justify = "right"
    for job in found:
        out.add_row(
            str(job.id),
            render.escape(render.first_line(job.name, 22)),
            render.escape(render.first_line(job.queue, 10)),
            str(job.attempt),
            render.escape(render.error_of(job, 26)),
            durations.since(job.finished_at, now),
        )
    render.print_table(out)
    if total > len(found):
        click.echo(f"showing {len(found)} of {total}; raise --limit or narrow the filters")
    click.echo("inspect one with `conveyor dlq show ID`; replay with `conveyor dlq replay ID`")


@dlq.command("show")
@click.argument("job_id", type=int)
@json_option
@target_options
def show_dead(target: Target, job_id: int, as_json: bool) -> None:
    """Show a dead job with every attempt's error and full traceback."""
    store = target.store()
    job = load_job(store, job_id)
    if job.state is not JobState.DEAD and not as_json:
        click.echo(f"note: job {job_id} is {job.state}, not dead\n")
    show_job(store, job, as_json=as_json)


def _target(asked: tuple[int, ...], changed: Sequence[int], filters: dict[str, Any]) -> str:
    """What the audit log names: the jobs by id, else the filter (as the dashboard does)."""
    if asked:
        return jobs_target(list(changed))
    chosen = [f"{k}={v}" for k, v in filters.items() if v is not None]
    return "dlq:" + (",".join(chosen) or "all")


def _selection(ids: tuple[int, ...], select_all: bool, filters: dict[str, Any],
               verb: str) -> JobFilter:
    if not ids and not select_all and not any(v is not None for v in filters.values()):
        raise ConfigurationError(
            f"say which dead jobs to {verb}: give job ids, a filter (--queue, --name, "
            f"--error-type, --older-than, --newer-than), or --all for every dead job"
        )
    if select_all and (ids or any(v is not None for v in filters.values())):
        raise ConfigurationError("--all selects every dead job; drop it, or drop the ids/filters")
    return build_filter(**filters, ids=ids)


def _preview(target: Target, flt: JobFilter, verb: str) -> int:
    store = target.store()
    count = store.count_jobs(flt)
    sample = [str(j.id) for j in store.list_jobs(dataclasses.replace(flt, limit=20))]
    more = f" and {count - len(sample)} more" if count > len(sample) else ""
    if count:
        click.echo(f"would {verb} {count} dead job{'s' if count != 1 else ''}: "
                   f"{', '.join(sample)}{more}")
    else:
        click.echo(f"no dead jobs match; nothing to {verb}")
    return count


MAX_RATE = 10_000.0
"""The fastest replay rate, in jobs per second (the dashboard's bound too)."""
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(text: str) -> float:
    """``--rate`` as jobs per second: ``5``, ``5/s``, ``300/m`` or ``1000/h``."""
    count, _, unit = text.strip().partition("/")
    try:
        rate = float(count) / _PER[unit.strip() or "s"]
    except (ValueError, KeyError):
        raise ConfigurationError(
            f"--rate {text!r} is not a rate: give jobs per second, minute or hour, such as "
            "5/s, 300/m or 1000/h"
        ) from None
    if not 0 < rate <= MAX_RATE:
        raise ConfigurationError(
            f"--rate {text!r} must be above 0 and at most {MAX_RATE:g} jobs per second"
        )
    return rate


def parse_sets(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--set key=value`` pairs: each value as JSON when it reads as JSON (``42``, ``true``,
    ``[1, 2]``, ``"007"``), else as the text itself."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(
                f"--set {pair!r} is not key=value; e.g. --set user_id=42 or --set note=retry"
            )
        try:
            found[key.strip()] = json.loads(text)
        except ValueError:
            found[key.strip()] = text
    return found


def _new_args(target: Target, store: Store, job_id: int, sets: dict[str, Any]) -> tuple[
    dict[str, Any] | None, str
]:
    """The dead job's arguments with ``sets`` applied, checked as an enqueue checks them:
    (the old arguments, the new ones as stored JSON)."""
    job = load_job(store, job_id)
    if job.state is not JobState.DEAD:
        raise ConfigurationError(f"job {job_id} is {job.state}: only dead jobs replay")
    clashing = sorted(RESERVED.intersection(sets))
    if clashing:
        raise ArgumentError(
            f"--set {', '.join(clashing)}: enqueue options, not arguments of the job; nothing "
            "was replayed"
        )
    merged = {**(job.args or {}), **sets}
    try:
        args_json = target.app().get(job.name).validate(**merged).args_json
    except ConveyorError as exc:
        raise ArgumentError(f"--set does not fit job {job_id} ({job.name}): {exc}; nothing "
                            "was replayed") from None
    return job.args, args_json


@dlq.command("replay")
@click.argument("job_ids", type=int, nargs=-1)
@filter_options
@click.option("--all", "select_all", is_flag=True, help="Replay every dead job.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Replay one job with this argument changed (repeatable; VALUE is JSON or "
                   "text), checked against the handler like an enqueue. Needs --app.")
@click.option("--rate", metavar="N/s",
              help="Spread the replay: at most this many jobs per second (or /m, /h).")
@click.option("--dry-run", is_flag=True, help="Only say which jobs would be replayed.")
@target_options
def replay(target: Target, job_ids: tuple[int, ...], select_all: bool, sets: tuple[str, ...],
           rate: str | None, dry_run: bool, **filters: Any) -> None:
    """Put dead jobs back in queued with fresh attempts; their history is kept."""
    flt = _selection(job_ids, select_all, filters, "replay")
    per_second = None if rate is None else parse_rate(rate)
    changes = parse_sets(sets)
    if changes and len(set(job_ids)) != 1:
        raise ConfigurationError(
            "--set changes one job's arguments: give exactly one JOB_ID (no filters or --all)"
        )
    if changes and any(v is not None for v in filters.values()):
        raise ConfigurationError("--set replays the one JOB_ID given; drop the filters")
    if dry_run:
        _preview(target, flt, "replay")
        return
    store = target.store()
    if changes:
        old, args_json = _new_args(target, store, job_ids[0], changes)
        changed = store.retry_jobs(flt, replay=Replay(args_json=args_json))
        if changed:
            record(store, "replay_with_args", jobs_target(changed), old_args=old,
                   new_args=json.loads(args_json))
    else:
        plan = Replay(per_second=per_second)
        changed = store.retry_jobs(flt, replay=plan) if per_second else store.retry_jobs(flt)
        if changed:
            record(store, "replay", _target(job_ids, changed, filters), count=len(changed),
                   per_second=per_second)
    if per_second and changed:
        spread = durations.duration((len(changed) - 1) / per_second)
        click.echo(f"spread over {spread} at {per_second:g} jobs per second")
    if job_ids:
        report(store, job_ids, changed, verb="replayed", nothing="not dead, nothing to replay")
        return
    count = len(changed)
    click.echo(f"replayed {count} dead job{'s' if count != 1 else ''}"
               + (f": {', '.join(str(i) for i in changed[:20])}" if changed else ""))


@dlq.command("discard")
@click.argument("job_ids", type=int, nargs=-1)
@filter_options
@click.option("--all", "select_all", is_flag=True, help="Discard every dead job.")
@click.option("--dry-run", is_flag=True, help="Only say which jobs would be discarded.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@target_options
def discard(target: Target, job_ids: tuple[int, ...], select_all: bool, dry_run: bool,
            yes: bool, **filters: Any) -> None:
    """Delete dead jobs and their history for good (asks first unless --yes)."""
    flt = _selection(job_ids, select_all, filters, "discard")
    if dry_run:
        _preview(target, flt, "discard")
        return
    store = target.store()
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigurationError(
                "discard deletes jobs for good and stdin is not a terminal to confirm; "
                "pass --yes to discard without asking (try --dry-run first)"
            )
        if not _preview(target, flt, "discard"):
            return
        if not click.confirm("discard them for good?", default=False):
            click.echo("nothing discarded")
            return
    count = store.discard_jobs(flt)
    if count:
        record(store, "discard", _target(job_ids, job_ids, filters), count=count)
    click.echo(f"discarded {count} dead job{'s' if count != 1 else ''}")
    if job_ids and count < len(set(job_ids)):
        click.echo("(the other ids are not dead jobs; `conveyor jobs show ID` says why)")
