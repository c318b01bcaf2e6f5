"""``conveyor usage``: what the jobs cost over a window (wall time, CPU, memory and the units
handlers report with ``ctx.usage``), per job name, queue or tenant."""

from __future__ import annotations

from typing import Any

import click

from conveyor._durations import to_seconds
from conveyor.cli import render
from conveyor.cli.options import Target, json_option, target_options
from conveyor.errors import ConfigurationError
from conveyor.store.contract.usage import USAGE_BY, UsageTotal


@click.command("usage", short_help="What the jobs cost, per job name, queue or tenant.")
@click.option("--by", "by", type=click.Choice(USAGE_BY), default="name", show_default=True,
              help="Group the attempts by this.")
@click.option("--since", default="1d", show_default=True, metavar="DURATION",
              help="Count the attempts that ended within this much of the past.")
@json_option
@target_options
def usage(target: Target, by: str, since: str, as_json: bool) -> None:
    """Print each group's attempts, jobs, wall time, CPU seconds, largest process memory and
    the sum of every unit its handlers reported with ctx.usage(...)."""
    span = to_seconds(since, what="--since")
    if span <= 0:
        raise ConfigurationError(f"--since must be more than zero, e.g. 1h or 7d; got {since!r}")
    store = target.store()
    now = store.now()
    totals = store.usage_totals(by, since=now - span)  # type: ignore[arg-type]
    if as_json:
        render.print_json({"by": by, "since": now - span, "until": now,
                           "groups": [usage_doc(t) for t in totals]})
        return
    if not totals:
        click.echo(f"no attempts ended in the last {since}")
        return
    units = sorted({unit for t in totals for unit in t.units})
    rows = render.table(by, "attempts", "jobs", "wall", "cpu", "max memory", *units)
    for t in totals:
        rows.add_row(
            render.escape(t.key) if t.key is not None else "-",
            f"{t.attempts:,}", f"{t.jobs:,}", _seconds(t.wall), _seconds(t.cpu),
            f"{t.memory_mb:,.0f} MiB", *(_number(t.units.get(unit)) for unit in units),
        )
    render.print_table(rows)


def usage_doc(total: UsageTotal) -> dict[str, Any]:
    """One group's totals as JSON."""
    return {"key": total.key, "attempts": total.attempts, "jobs": total.jobs,
            "wall": total.wall, "cpu": total.cpu, "memory_mb": total.memory_mb,
            "units": total.units}


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.4g}"


def _seconds(value: float) -> str:
    # Short jobs sum to fractions of a second: keep three significant digits there.
    return f"{value:,.1f}s" if value >= 100 else f"{value:.3g}s"
