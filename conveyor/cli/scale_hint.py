"""``conveyor scale-hint``: how many worker processes the queues need now, and why.

For an autoscaler across machines (a cron job, a KEDA external metric, a script): it reads
the queues' counts and the run time of the attempts that finished in the window, and prints
the processes needed to keep up and to start today's backlog within the target wait. See
:mod:`conveyor._scaling` for the arithmetic and docs/deployment.md for KEDA.
"""

from __future__ import annotations

from typing import Any

import click

from conveyor import _scaling
from conveyor._durations import to_seconds
from conveyor._scaling import SCHEDULER_LEASE, ScaleHint, queue_needs
from conveyor.cli import render
from conveyor.cli.options import Target, json_option, target_options
from conveyor.errors import ConfigurationError


@click.command("scale-hint", short_help="How many worker processes the queues need now.")
@click.option("--target-wait", default="30s", show_default=True, metavar="DURATION",
              help="Start every ready job within this long.")
@click.option("--window", default="5m", show_default=True, metavar="DURATION",
              help="Average the drain rate and run times over this much of the past.")
@click.option("--slots", default=8, show_default=True, type=click.IntRange(1),
              help="Jobs one process runs at once (the workers' --concurrency).")
@click.option("--max", "most", type=click.IntRange(0), metavar="N",
              help="Never advise more than N processes.")
@json_option
@target_options
def scale_hint(target: Target, target_wait: str, window: str, slots: int,
                       most: int | None, as_json: bool) -> None:
    """Print how many worker processes to run: enough to keep up with the work that arrives
    and to start the ready backlog within --target-wait.

    Never zero while schedules are active and no `conveyor scheduler` runs (the workers
    would be what fires them). Paused queues need nothing.
    """
    wait = to_seconds(target_wait, what="--target-wait")
    span = to_seconds(window, what="--window")
    if wait <= 0 or span <= 0:
        raise ConfigurationError("--target-wait and --window must be more than zero, "
                                 f"got {target_wait!r} and {window!r}")
    store = target.store()
    now = store.now()
    needs = queue_needs(store.queue_stats(now=now), store.queue_load(now - span),
                        window=span, target_wait=wait)
    scheduling = any(not row.paused for row in store.list_schedules())
    hint = _scaling.scale_hint(
        needs,
        slots_per_process=slots,
        target_wait=wait,
        window=span,
        schedules_need_workers=scheduling and store.lease_holder(SCHEDULER_LEASE) is None,
        most=most,
    )
    if as_json:
        render.print_json(hint_doc(hint))
        return
    click.echo(f"{render.plural(hint.processes, 'process')}: {hint.reason}")
    if not hint.queues:
        return
    rows = render.table("queue", "ready", "running", "drain/s", "mean run", "slots")
    for need in hint.queues:
        rows.add_row(
            need.queue,
            f"{need.ready:,}+" if need.ready_at_least else str(need.ready),
            str(need.running),
            f"{need.attempts_per_second:.3g}",
            "-" if need.mean_seconds is None else f"{need.mean_seconds:.3g}s",
            f"{need.slots:.3g}",
        )
    render.print_table(rows)


def hint_doc(hint: ScaleHint) -> dict[str, Any]:
    """The hint as JSON: the number, the reason and each queue's figures."""
    return {
        "processes": hint.processes,
        "reason": hint.reason,
        "slots_per_process": hint.slots_per_process,
        "target_wait": hint.target_wait,
        "window": hint.window,
        "queues": [
            {
                "queue": n.queue,
                "ready": n.ready,
                "ready_at_least": n.ready_at_least,
                "running": n.running,
                "attempts_per_second": n.attempts_per_second,
                "mean_seconds": n.mean_seconds,
                "keep_up_slots": n.keep_up_slots,
                "catch_up_slots": n.catch_up_slots,
                "slots": n.slots,
                "drain_seconds": n.drain_seconds,
            }
            for n in hint.queues
        ],
    }
