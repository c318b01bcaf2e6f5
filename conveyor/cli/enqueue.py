"""``conveyor enqueue NAME --args '{...}'``: enqueue a job by name from the shell."""

from __future__ import annotations

import json
from typing import Any

import click

from conveyor._args import RESERVED
from conveyor.cli import render
from conveyor.cli.options import Target, json_option, target_options
from conveyor.errors import ArgumentError


def parse_args(text: str) -> dict[str, Any]:
    """The ``--args`` JSON object as keyword arguments; raises :class:`ArgumentError`."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ArgumentError(
            f"--args is not valid JSON ({exc}); pass an object such as "
            "--args '{\"user_id\": 42}'; nothing was enqueued"
        ) from None
    if not isinstance(value, dict):
        raise ArgumentError(
            f"--args must be a JSON object of keyword arguments, got {type(value).__name__}; "
            "e.g. --args '{\"user_id\": 42}'; nothing was enqueued"
        )
    clashing = sorted(set(value) & RESERVED)
    if clashing:
        raise ArgumentError(
            f"--args holds {', '.join(clashing)}, which are enqueue options, not job arguments; "
            "use --delay, --priority, --queue, --notify-url or --expires-in instead; nothing "
            "was enqueued"
        )
    return value


@click.command(short_help="Enqueue a job by name with JSON arguments; print its id.")
@click.argument("name")
@click.option("--args", "args_text", default="{}", metavar="JSON",
              help="Keyword arguments as a JSON object, e.g. '{\"user_id\": 42}'.")
@click.option("--delay", metavar="DURATION", help="Run after this long, e.g. 30s or 5m.")
@click.option("--priority", type=int, help="Higher runs first (default: the job's own).")
@click.option("--queue", help="Queue to use instead of the job's own.")
@click.option("--notify-url", metavar="URL",
              help="POST a signed JSON summary to this URL when the job finishes "
                   "(docs/notifications.md).")
@click.option("--expires-in", metavar="DURATION",
              help="Start deadline after the job is due, e.g. 10m: not started by then, it "
                   "ends cancelled (expired), never run late.")
@json_option
@target_options
def enqueue(target: Target, name: str, args_text: str, delay: str | None,
            priority: int | None, queue: str | None, notify_url: str | None,
            expires_in: str | None, as_json: bool) -> None:
    """Enqueue one job of type NAME (as declared on your app) and print its id."""
    kwargs = parse_args(args_text)
    app = target.app()
    options: dict[str, Any] = {}
    if delay is not None:
        options["delay"] = delay
    if priority is not None:
        options["priority"] = priority
    if queue is not None:
        options["queue"] = queue
    if expires_in is not None:
        options["expires_in"] = expires_in
    if notify_url is not None:
        options["notify_url"] = notify_url
    handle = app.enqueue(name, **kwargs, **options)
    if as_json:
        render.print_json({"id": handle.id, "name": handle.name, "state": handle.state})
        return
    click.echo(f"enqueued job {handle.id} ({handle.name}, {handle.state})")
