"""``conveyor schedules``: list, show, pause, resume, trigger, add and remove schedules.

Schedules declared in code (``@app.cron``, ``@app.every``, ``app.schedule``) reach the store
when a worker starts; ``schedules add`` writes run-time ones straight to the store. Both kinds
are listed, paused and triggered the same way; only run-time ones can be removed here.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import click

from conveyor import _durations as durations
from conveyor._args import RESERVED
from conveyor.cli import render
from conveyor.cli.audit import operator_name, record
from conveyor.cli.options import Target, json_option, target_options
from conveyor.errors import ArgumentError, ConfigurationError
from conveyor.schedules.definition import build_schedule, make_timing
from conveyor.schedules.timing import Timing, parse_timing
from conveyor.store.protocol import Store
from conveyor.store.watch_types import LedgerEntry, ScheduleRow, ScheduleSource, Verdict

EXPECTED_SHOWN = 3
"""Upcoming slots ``schedules show`` lists above the ledger."""

VERDICT_STYLES = {
    Verdict.OK: "green",
    Verdict.FAILED: "bold red",
    Verdict.LATE: "red",
    Verdict.MISSED: "red",
    Verdict.UNEXPECTED: "red",
    Verdict.SKIPPED: "dim",
}


def timing_of(row: ScheduleRow) -> Timing | None:
    """The stored timing of a schedule, or None when it cannot be read (shown as raw text)."""
    try:
        return parse_timing(row.timing, row.tz)
    except ConfigurationError:
        return None


def describe(row: ScheduleRow) -> str:
    """``cron 0 3 * * * Europe/Berlin`` / ``every 15m`` (the raw spec if it cannot be read)."""
    timing = timing_of(row)
    return timing.describe() if timing is not None else f"{row.timing} {row.tz}"


def slot_label(timing: Timing | None, slot: float) -> str:
    """A slot named with its date, in the schedule's zone (UTC when the timing is unknown)."""
    if timing is not None:
        return timing.label(slot, with_date=True)
    return datetime.fromtimestamp(slot, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def outcome(entry: LedgerEntry) -> str:
    """``enqueued/ok``: what the scheduler did with the slot, then the monitor's verdict."""
    text = str(entry.status)
    return f"{text}/{entry.verdict}" if entry.verdict is not None else text


def find_schedule(store: Store, name: str) -> ScheduleRow:
    """The stored schedule ``name``; raises :class:`ConfigurationError` naming the known ones."""
    row = store.get_schedule(name)
    if row is None:
        known = ", ".join(r.name for r in store.list_schedules()) or "none yet"
        raise ConfigurationError(
            f"no schedule named {name!r} (known: {known}); code schedules appear once a worker "
            "of the app has started, run-time ones with `conveyor schedules add`"
        )
    return row


def timing_option(cron: str | None, every: str | None, tz: str | None) -> Timing:
    """The timing given as ``--cron EXPR [--tz ZONE]`` or ``--every DURATION``, validated."""
    if cron is not None and every is not None:
        raise ConfigurationError("give --cron or --every, not both")
    if cron is None and every is None:
        raise ConfigurationError(
            "give a timing: --cron EXPR (e.g. --cron '0 3 * * *' --tz Europe/Berlin) or "
            "--every DURATION (e.g. --every 15m)"
        )
    if tz is not None and cron is None:
        raise ConfigurationError(
            "--tz is the zone of --cron; --every follows real elapsed time in every zone"
        )
    return make_timing(cron, every, tz)


def _paused_note(row: ScheduleRow) -> str:
    return f"paused by {row.paused_by}" if row.paused_by else "paused"


# -- conveyor schedules (the list) -----------------------------------------------------------


@click.group(invoke_without_command=True,
             short_help="Schedules: next and last slot, pause, trigger, add, remove.")
@json_option
@target_options
def schedules(target: Target, as_json: bool) -> None:
    """Every schedule: its timing, job, next slot, last slot and what became of it.

    `conveyor schedules show NAME` lists a schedule's ledger of slots; `pause`, `resume`,
    `trigger`, `add` and `remove` act on one.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    store = target.store()
    now = store.now()
    rows = store.list_schedules()
    listed = [(row, timing_of(row), _last_entry(store, row.name)) for row in rows]
    if as_json:
        render.print_json({"schedules": [_row_doc(row, timing, last, now)
                                         for row, timing, last in listed]})
        return
    if not rows:
        click.echo("no schedules yet: declare one with @app.cron / @app.every and start a "
                   "worker, or add one with `conveyor schedules add`")
        return
    out = render.table("schedule", "timing", "job", "next", "last", "source")
    for column in out.columns[:3]:
        column.overflow = "fold"  # a name cut short is a name nobody can type
    for row, timing, last in listed:
        if row.paused:
            upcoming = f"[yellow]{render.escape(_paused_note(row))}[/]"
        elif timing is None:
            upcoming = "-"
        else:
            slot = timing.next_after(now)
            upcoming = f"{slot_label(timing, slot)}\n{durations.until(slot, now)}"
        out.add_row(
            render.escape(row.name),
            render.escape(describe(row)),
            render.escape(row.job_name),
            upcoming,
            "-" if last is None else f"{durations.since(last.slot, now)} ago\n"
                                     f"{_styled_outcome(last)}",
            str(row.source),
        )
    render.print_table(out)


def _last_entry(store: Store, name: str) -> LedgerEntry | None:
    newest = store.schedule_ledger(name, limit=1)
    return newest[0] if newest else None


def _styled_outcome(entry: LedgerEntry) -> str:
    if entry.verdict is None:
        return str(entry.status)
    style = VERDICT_STYLES.get(entry.verdict, "")
    return f"{entry.status}/[{style}]{entry.verdict}[/]" if style else outcome(entry)


def _row_doc(row: ScheduleRow, timing: Timing | None, last: LedgerEntry | None,
             now: float) -> dict[str, Any]:
    doc = render.to_dict(row)
    doc["args"] = json.loads(row.args_json)
    doc["description"] = describe(row)
    upcoming = None if timing is None or row.paused else timing.next_after(now)
    doc["next_slot"] = upcoming
    doc["next_label"] = None if upcoming is None else slot_label(timing, upcoming)
    doc["last"] = None if last is None else _entry_doc(last, timing)
    return doc


def _entry_doc(entry: LedgerEntry, timing: Timing | None) -> dict[str, Any]:
    doc = render.to_dict(entry)
    doc["label"] = slot_label(timing, entry.slot)
    return doc


# -- conveyor schedules show NAME ------------------------------------------------------------


@schedules.command("show")
@click.argument("name")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000),
              help="At most this many past slots.")
@json_option
@target_options
def show(target: Target, name: str, limit: int, as_json: bool) -> None:
    """Show schedule NAME: its definition, the next slots, and its ledger of past slots.

    Each past slot shows what the scheduler did (enqueued, missed, skipped, paused), the job it
    enqueued and that job's state, and the monitor's verdict (ok, late, failed, missed,
    unexpected, skipped) with the reason.
    """
    store = target.store()
    row = find_schedule(store, name)
    now = store.now()
    timing = timing_of(row)
    ledger = store.schedule_ledger(row.name, limit=limit)
    expected = _expected(timing, now) if not row.paused else []
    statuses = Counter(str(e.status) for e in ledger)
    verdicts = Counter(str(e.verdict) for e in ledger if e.verdict is not None)
    if as_json:
        render.print_json({
            "schedule": _row_doc(row, timing, ledger[0] if ledger else None, now),
            "expected": [{"slot": s, "label": slot_label(timing, s), "status": "expected"}
                         for s in expected],
            "ledger": [_entry_doc(e, timing) for e in ledger],
            "counts": {"status": dict(statuses), "verdict": dict(verdicts)},
        })
        return
    _print_definition(row, now)
    out = render.table("slot", "status", "job", "job state", "verdict", "detail")
    for slot in reversed(expected):
        out.add_row(slot_label(timing, slot), "[cyan]expected[/]", "", "",
                    "", durations.until(slot, now))
    for entry in ledger:
        out.add_row(
            slot_label(timing, entry.slot),
            str(entry.status),
            "-" if entry.job_id is None else str(entry.job_id),
            "-" if entry.job_state is None else render.state(entry.job_state),
            _verdict(entry),
            render.escape(render.first_line(_detail(entry), 60)),
        )
    click.echo()
    render.print_table(out)
    if not ledger:
        click.echo("no slot has come due yet")
    else:
        click.echo(_counts_line(len(ledger), statuses, verdicts))


def _expected(timing: Timing | None, now: float) -> list[float]:
    if timing is None:
        return []
    slots = [timing.next_after(now)]
    while len(slots) < EXPECTED_SHOWN:
        slots.append(timing.next_after(slots[-1]))
    return slots


def _print_definition(row: ScheduleRow, now: float) -> None:
    args = json.loads(row.args_json)
    lines = [
        ("schedule", row.name + (f" ({_paused_note(row)})" if row.paused else "")),
        ("timing", describe(row)),
        ("job", row.job_name),
        ("args", json.dumps(args) if args else "none"),
        ("queue", row.queue or "the job's own"),
        ("priority", "the job's own" if row.priority is None else str(row.priority)),
        ("grace", durations.duration(row.grace)),
        ("catch-up", row.catch_up + (f" (at most {row.catch_up_cap})"
                                     if row.catch_up == "all" else "")),
        ("overlap", row.overlap),
        ("source", "code" if row.source == ScheduleSource.CODE
         else "store (added with `conveyor schedules add`)"),
        ("since", f"{durations.clock(row.created_at)} ({durations.since(row.created_at, now)} "
                  "ago)"),
    ]
    for key, value in lines:
        click.echo(f"{key + ':':<10} {value}")


def _verdict(entry: LedgerEntry) -> str:
    if entry.verdict is None:
        return "-"
    style = VERDICT_STYLES.get(entry.verdict)
    return f"[{style}]{entry.verdict}[/]" if style else str(entry.verdict)


def _detail(entry: LedgerEntry) -> str:
    parts = []
    if entry.manual:
        parts.append(f"triggered by {entry.by}" if entry.by else "triggered by hand")
    if entry.verdict_detail:
        parts.append(entry.verdict_detail)
    elif entry.error_type:
        parts.append(f"{entry.error_type}: {entry.error_message or ''}")
    return "; ".join(parts)


def _counts_line(shown: int, statuses: Counter[str], verdicts: Counter[str]) -> str:
    def listing(counts: Counter[str]) -> str:
        return ", ".join(f"{count} {key}" for key, count in counts.most_common())

    text = f"{render.plural(shown, 'slot')} shown: {listing(statuses)}"
    return text + (f"; verdicts: {listing(verdicts)}" if verdicts else "; none judged yet")


# -- pause, resume, trigger ------------------------------------------------------------------


@schedules.command("pause")
@click.argument("name")
@click.option("--by", metavar="WHO", help="Who is pausing, recorded with the pause "
                                          "[default: your user name].")
@target_options
def pause(target: Target, name: str, by: str | None) -> None:
    """Stop schedule NAME firing until it is resumed.

    Jobs it already enqueued still run. Its slots are recorded in the ledger as paused
    until `conveyor schedules resume NAME`.
    """
    store = target.store()
    row = find_schedule(store, name)
    if row.paused:
        click.echo(f"schedule {row.name} was already {_paused_note(row)}")
        return
    store.set_schedule_paused(row.name, True, operator_name(by))
    record(store, "pause_schedule", f"schedule:{row.name}", by=by)
    click.echo(f"paused schedule {row.name}: no slot fires until it is resumed")


@schedules.command("resume")
@click.argument("name")
@click.option("--by", metavar="WHO", help="Who is resuming [default: your user name].")
@target_options
def resume(target: Target, name: str, by: str | None) -> None:
    """Let schedule NAME fire again, from its next slot.

    While it was paused, running schedulers recorded each of its slots as paused.
    """
    store = target.store()
    row = find_schedule(store, name)
    if not row.paused:
        click.echo(f"schedule {row.name} was not paused")
        return
    store.set_schedule_paused(row.name, False, operator_name(by))
    record(store, "resume_schedule", f"schedule:{row.name}", by=by)
    click.echo(f"resumed schedule {row.name}: it fires again from its next slot")


@schedules.command("trigger")
@click.argument("name")
@click.option("--by", metavar="WHO", help="Who triggered it, recorded in the ledger "
                                          "[default: your user name].")
@json_option
@target_options
def trigger(target: Target, name: str, by: str | None, as_json: bool) -> None:
    """Enqueue schedule NAME's job now, outside its timing (needs --app).

    The run is recorded in the ledger as a manual slot; the schedule's own slots are not
    affected, and a paused schedule can be triggered too.
    """
    app = target.app()
    store = target.store()
    written = app.trigger_schedule(name, by=operator_name(by), store=store)
    if written.written:
        record(store, "trigger_schedule", f"schedule:{name}", by=by, slot=written.slot,
               job_id=written.job_id)
    if as_json:
        render.print_json({"schedule": name, "slot": written.slot, "written": written.written,
                           "job_id": written.job_id})
        return
    if not written.written or written.job_id is None:
        click.echo(f"schedule {name} already has a run for this second; nothing was enqueued")
        return
    click.echo(f"triggered schedule {name}: enqueued job {written.job_id}")


# -- add and remove --------------------------------------------------------------------------


@schedules.command("add")
@click.argument("name")
@click.option("--job", "job_name", required=True, metavar="JOB",
              help="The job type to enqueue at each slot, e.g. myapp.send_report.")
@click.option("--cron", metavar="EXPR", help="Cron expression, e.g. '0 3 * * *'.")
@click.option("--tz", metavar="ZONE", help="Time zone of --cron, e.g. Europe/Berlin "
                                           "[default: UTC].")
@click.option("--every", metavar="DURATION", help="Interval instead of --cron, e.g. 15m.")
@click.option("--args", "args_text", default="{}", metavar="JSON",
              help="The job's keyword arguments as a JSON object.")
@click.option("--queue", help="Queue to use instead of the job's own.")
@click.option("--priority", type=int, help="Priority instead of the job's own.")
@click.option("--grace", metavar="DURATION", help="How long after a slot its run may take to "
                                                  "succeed before an alert [default: one "
                                                  "period, 1m to 1h].")
@click.option("--catch-up", default="latest", show_default=True,
              type=click.Choice(["latest", "all", "none"]),
              help="After downtime: run the newest missed slot, all of them, or none.")
@click.option("--overlap", default="skip", show_default=True,
              type=click.Choice(["skip", "queue", "allow"]),
              help="While the previous run is going: skip the slot, queue it, or run anyway.")
@target_options
def add(target: Target, name: str, job_name: str, cron: str | None, tz: str | None,
        every: str | None, args_text: str, queue: str | None, priority: int | None,
        grace: str | None, catch_up: str, overlap: str) -> None:
    """Add a run-time schedule NAME that enqueues JOB at every slot of --cron or --every.

    It lives in the store only (source "store"): workers whose app declares JOB fire it, and
    `conveyor schedules remove NAME` deletes it. Given --app, the job and its arguments are
    checked now.
    """
    args = _parse_args(args_text)
    definition = build_schedule(
        name, job_name, timing_option(cron, every, tz), args=args, queue=queue,
        priority=priority, grace=grace, catch_up=catch_up, overlap=overlap,
        source=ScheduleSource.STORE,
    )
    checked = _check_against_app(target, definition.name, job_name, args, queue, priority)
    store = target.store()
    if not store.put_schedules([definition.to_row()])[0]:
        taken = store.get_schedule(definition.name)
        where = ("declared in code" if taken is not None and taken.source == ScheduleSource.CODE
                 else "added at run time")
        raise ConfigurationError(
            f"a schedule named {definition.name!r} exists already ({where}); pick another name "
            f"or remove it first with `conveyor schedules remove {definition.name}`"
        )
    record(store, "add_schedule", f"schedule:{definition.name}", job=definition.job_name,
           timing=definition.timing.describe(), args=args)
    upcoming = definition.timing.next_after(store.now())
    click.echo(f"added schedule {definition.name} ({definition.timing.describe()}, job "
               f"{definition.job_name}); next slot {slot_label(definition.timing, upcoming)} "
               f"({durations.until(upcoming, store.now())})")
    if not checked:
        click.echo(f"note: job {definition.job_name} and its arguments were not checked; pass "
                   "--app to check them now. Only workers whose app declares it fire it.")


def _parse_args(text: str) -> dict[str, Any]:
    """``--args`` as the job's keyword arguments; raises :class:`ArgumentError`."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ArgumentError(
            f"--args is not valid JSON ({exc}); pass an object such as --args '{{\"days\": 7}}'"
        ) from None
    if not isinstance(value, dict):
        raise ArgumentError(
            f"--args must be a JSON object of the job's keyword arguments, got "
            f"{type(value).__name__}; e.g. --args '{{\"days\": 7}}'"
        )
    clashing = sorted(set(value) & RESERVED)
    if clashing:
        raise ArgumentError(
            f"--args holds {', '.join(clashing)}, which are job options, not arguments; use "
            "--queue or --priority instead"
        )
    return value


def _check_against_app(target: Target, name: str, job_name: str, args: dict[str, Any],
                       queue: str | None, priority: int | None) -> bool:
    """With --app: the job must exist and take ``args`` (as the scheduler will call it)."""
    if not target.app_spec:
        return False
    app = target.app()
    if name in app.schedules:
        raise ConfigurationError(
            f"schedule {name!r} is declared in the app's code; pick another name for a "
            "run-time schedule"
        )
    options: dict[str, Any] = {}
    if queue is not None:
        options["queue"] = queue
    if priority is not None:
        options["priority"] = priority
    app.get(job_name).validate(**args, **options)
    return True


@schedules.command("remove")
@click.argument("name")
@target_options
def remove(target: Target, name: str) -> None:
    """Delete run-time schedule NAME (one added with `conveyor schedules add`).

    Its ledger of past slots is kept. Schedules declared in code are removed by deleting them
    from the code.
    """
    store = target.store()
    row = find_schedule(store, name)
    if row.source == ScheduleSource.CODE:
        raise ConfigurationError(
            f"schedule {row.name!r} is declared in code; delete it from the code (removed here, "
            "it would come back at the next worker start), or pause it with "
            f"`conveyor schedules pause {row.name}`"
        )
    store.remove_schedule(row.name)
    record(store, "remove_schedule", f"schedule:{row.name}")
    click.echo(f"removed schedule {row.name}; its ledger of past slots is kept")
