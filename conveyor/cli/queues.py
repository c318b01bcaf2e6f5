"""``conveyor migrate`` and ``conveyor queues`` (with ``queues pause`` and ``queues resume``)."""

from __future__ import annotations

import click

from conveyor import _durations as durations
from conveyor._names import check_queue
from conveyor.cli import render
from conveyor.cli.audit import operator_name, record
from conveyor.cli.health import live_workers, unserved
from conveyor.cli.options import Target, json_option, target_options
from conveyor.store import open_store, sqlite_path


@click.command()
@target_options
def migrate(target: Target) -> None:
    """Create or upgrade the database schema and print its version."""
    url = target.url()
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(url, migrate=False, schema=target.schema())
    try:
        version = store.migrate()
    finally:
        store.close()
    click.echo(f"schema version {version} at {url}")


@click.group(invoke_without_command=True,
             short_help="Per-queue counts, oldest wait, and jobs no live worker knows.")
@json_option
@target_options
def queues(target: Target, as_json: bool) -> None:
    """Per queue: jobs waiting, running, retrying and dead, the oldest wait, the last hour.

    Below the table, every job name with ready jobs that no live worker knows is named, and a
    paused queue is marked "paused". `conveyor queues pause NAME` and `conveyor queues resume
    NAME` stop and restart a queue's claims.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return  # `queues pause` / `queues resume` run on their own
    store = target.store()
    stats = store.queue_stats()
    workers = live_workers(store)
    missing = unserved(store, stats, workers)
    if as_json:
        render.print_json(
            {
                "queues": [render.to_dict(s) for s in stats],
                "workers": [render.to_dict(w) for w in workers],
                "unserved": [
                    {"queue": u.queue, "name": u.name, "ready": u.ready, "reason": u.reason,
                     "message": u.message}
                    for u in missing
                ],
            }
        )
        return
    if not stats:
        click.echo("no jobs yet (enqueue one with `conveyor enqueue NAME --app myapp:app`)")
    else:
        out = render.table(
            "queue", "queued", "sched", "running", "retry", "dead", "oldest", "ok 1h", "fail 1h"
        )
        for column in out.columns[1:]:
            column.justify = "right"
        for s in stats:
            out.add_row(
                render.escape(s.queue) + (" [yellow](paused)[/]" if s.paused else ""),
                s.shown("queued"),
                s.shown("scheduled"),
                s.shown("running"),
                s.shown("retrying"),
                f"[red]{s.shown('dead')}[/]" if s.dead else "0",
                durations.age(s.oldest_queued_age),
                s.shown("succeeded_last_hour"),
                str(s.failed_last_hour),
            )
        render.print_table(out)
    count = len(workers)
    click.echo(f"{count} live worker process{'es' if count != 1 else ''}"
               + (f": {render.worker_names(workers)}" if workers else ""))
    for item in missing:
        click.echo(item.message)


@queues.command("pause")
@click.argument("name")
@click.option("--by", metavar="WHO", help="Who is pausing, recorded with the pause "
                                          "[default: your user name].")
@target_options
def pause(target: Target, name: str, by: str | None) -> None:
    """Stop workers claiming jobs of queue NAME; it still accepts new jobs.

    Jobs already running finish. Resume with `conveyor queues resume NAME`.
    """
    queue = check_queue(name)
    store = target.store()
    if store.set_queue_paused(queue, True, operator_name(by)):
        record(store, "pause_queue", f"queue:{queue}", by=by)
        click.echo(f"paused queue {queue}: workers claim none of its jobs until it is resumed")
    else:
        click.echo(f"queue {queue} was already paused")


@queues.command("resume")
@click.argument("name")
@click.option("--by", metavar="WHO", help="Who is resuming [default: your user name].")
@target_options
def resume(target: Target, name: str, by: str | None) -> None:
    """Let workers claim jobs of queue NAME again."""
    queue = check_queue(name)
    store = target.store()
    if store.set_queue_paused(queue, False, operator_name(by)):
        record(store, "resume_queue", f"queue:{queue}", by=by)
        click.echo(f"resumed queue {queue}")
    else:
        click.echo(f"queue {queue} was not paused")
