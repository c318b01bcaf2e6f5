"""``conveyor checkin NAME``: work outside Conveyor reports that it ran (and ``--list``).

A cron job, a backup script or a deploy ends with ``conveyor checkin nightly-backup``; the
monitor raises an incident when a slot of the check-in's timing passes, plus its grace, with
no ping. Giving a timing creates the check-in (or updates it) before recording the ping, so
one line in a crontab sets everything up.
"""

from __future__ import annotations

import math
from typing import Any

import click

from conveyor import _durations as durations
from conveyor.cli import render
from conveyor.cli.options import Target, json_option, target_options
from conveyor.cli.schedules import timing_option
from conveyor.errors import ConfigurationError
from conveyor.monitor.checkins import check, window_of
from conveyor.monitor.config import build_checkin
from conveyor.schedules.timing import Timing, parse_timing
from conveyor.store.protocol import Store
from conveyor.store.watch_types import CheckinRow

DEFAULT_GRACE = "5m"


@click.command(short_help="Record that outside work ran; --list shows the check-ins.")
@click.argument("name", required=False)
@click.option("--every", metavar="DURATION", help="Expect a ping this often, e.g. 1d or 15m "
                                                  "(creates or updates the check-in).")
@click.option("--cron", metavar="EXPR", help="Expect a ping at every slot of this cron "
                                             "expression, e.g. '0 3 * * *'.")
@click.option("--tz", metavar="ZONE", help="Time zone of --cron [default: UTC].")
@click.option("--grace", metavar="DURATION",
              help=f"How late a ping may come after its slot [default: {DEFAULT_GRACE}].")
@click.option("--list", "listing", is_flag=True,
              help="List the check-ins with their last ping and next deadline instead.")
@json_option
@target_options
def checkin(target: Target, name: str | None, every: str | None, cron: str | None,
            tz: str | None, grace: str | None, listing: bool, as_json: bool) -> None:
    """Record a ping for check-in NAME now; with --every or --cron, create or update it first.

    A ping counts for the slot it belongs to if it comes after the previous slot's deadline
    and by the slot plus --grace. `conveyor checkin --list` shows every check-in.
    """
    if listing:
        if name or every or cron or tz or grace:
            raise ConfigurationError(
                "--list takes no check-in name or timing; run `conveyor checkin --list` alone"
            )
        _list(target.store(), as_json)
        return
    if not name:
        raise ConfigurationError(
            "which check-in? pass its name, e.g. `conveyor checkin nightly-backup` (add "
            "--every 1d the first time), or --list to see them"
        )
    store = target.store()
    timing: Timing | None = None
    if every is not None or cron is not None or tz is not None:
        definition = build_checkin(name, timing_option(cron, every, tz), grace or DEFAULT_GRACE)
        store.put_checkin(definition.name, definition.to_row())
        timing = definition.timing
    elif grace is not None:
        raise ConfigurationError(
            "--grace is part of a check-in's definition: give its timing too (--every DURATION "
            f"or --cron EXPR), e.g. `conveyor checkin {name} --every 1d --grace 30m`"
        )
    pinged = _ping(target, store, name)
    row = next((r for r in store.list_checkins() if r.name == name), None)
    if as_json:
        render.print_json({"name": name, "pinged_at": pinged,
                           "next_deadline": None if row is None else next_deadline(row, pinged)})
        return
    message = f"checked in {name} at {durations.clock(pinged)}"
    if row is not None:
        deadline = next_deadline(row, pinged)
        if deadline is not None:
            timing = timing or _timing(row)
            message += f"; next ping due by {_at(timing, deadline)}"
    click.echo(message)


def _ping(target: Target, store: Store, name: str) -> float:
    """Record the ping; a check-in only the app's code declares is written first."""
    pinged = store.record_checkin(name)
    if pinged is None and target.app_spec:
        declared = target.app().checkins.get(name)
        if declared is not None:
            store.put_checkin(declared.name, declared.to_row())
            pinged = store.record_checkin(name)
    if pinged is None:
        known = ", ".join(r.name for r in store.list_checkins()) or "none yet"
        raise ConfigurationError(
            f"no check-in named {name!r} (known: {known}); create it by giving its timing, "
            f"e.g. `conveyor checkin {name} --every 1d` or --cron '0 3 * * *', or declare it "
            "with app.checkin(...)"
        )
    return pinged


def next_deadline(row: CheckinRow, now: float) -> float | None:
    """The deadline of the first slot not yet due whose window holds no ping by ``now``.

    None when the timing cannot be read.
    """
    timing = _timing(row)
    if timing is None:
        return None
    # The first slot whose deadline is still ahead; skip it when its window already has a ping.
    window = window_of(timing, row.grace, timing.next_after(max(now - row.grace, row.created_at)))
    if row.last_ping_at is not None and window.contains(row.last_ping_at):
        window = window_of(timing, row.grace, timing.next_after(window.slot))
    return window.closes


def _timing(row: CheckinRow) -> Timing | None:
    try:
        return parse_timing(row.timing, row.tz)
    except ConfigurationError:
        return None


def _at(timing: Timing | None, moment: float) -> str:
    return durations.clock(moment) if timing is None else timing.label(moment, with_date=True)


def _list(store: Store, as_json: bool) -> None:
    rows = store.list_checkins()
    now = store.now()
    docs = [_row_doc(store, row, now) for row in rows]
    if as_json:
        render.print_json({"checkins": docs})
        return
    if not rows:
        click.echo("no check-ins yet: create one with `conveyor checkin NAME --every 1d`")
        return
    out = render.table("check-in", "timing", "grace", "last ping", "next deadline", "state")
    for row, doc in zip(rows, docs, strict=True):
        timing = _timing(row)
        deadline = doc["next_deadline"]
        out.add_row(
            render.escape(row.name) + (" [yellow](paused)[/]" if row.paused else ""),
            render.escape(timing.describe() if timing else f"{row.timing} {row.tz}"),
            durations.duration(row.grace),
            "never" if row.last_ping_at is None
            else f"{durations.since(row.last_ping_at, now)} ago",
            "-" if deadline is None else f"{_at(timing, deadline)} "
                                         f"({durations.until(deadline, now)})",
            {"ok": "[green]ok[/]", "late": "[bold red]late[/]"}.get(doc["state"], doc["state"]),
        )
    render.print_table(out)


def _row_doc(store: Store, row: CheckinRow, now: float) -> dict[str, Any]:
    """A check-in as JSON with its state: ``ok``, ``late`` (newest due slot had no ping) or
    ``waiting`` (no slot due yet)."""
    try:
        finding = check(store, row, now)
    except ConfigurationError:
        finding = None
    state = "waiting" if finding is None else ("ok" if finding.ok else "late")
    deadline = next_deadline(row, now)
    return {
        **render.to_dict(row),
        "state": state,
        "next_deadline": deadline if deadline is not None and math.isfinite(deadline) else None,
        "summary": None if finding is None else finding.summary,
    }
