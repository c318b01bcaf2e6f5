"""Output for people and for scripts: rich tables, human ages and durations, JSON documents.

Tables are sized for an 80-column terminal. Messages are printed with ``click.echo`` so that
long lines (a traceback, a hint with a command in it) are never re-wrapped.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from conveyor.models import Attempt, Job, JobState, WorkerInfo

STATE_STYLES = {
    JobState.HELD: "dim cyan",
    JobState.SCHEDULED: "cyan",
    JobState.QUEUED: "blue",
    JobState.RUNNING: "yellow",
    JobState.RETRYING: "magenta",
    JobState.SUCCEEDED: "green",
    JobState.DEAD: "bold red",
    JobState.CANCELLED: "dim",
}


def console() -> Console:
    """A console on stdout; plain text (no colour codes) when stdout is not a terminal."""
    return Console(highlight=False, soft_wrap=False)


def table(*columns: str, title: str | None = None) -> Table:
    """A compact table with the given column headers."""
    # Columns are set apart by the box's one-space divider plus one space of padding.
    out = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False,
                show_edge=False, padding=(0, 1, 0, 0))
    for column in columns:
        out.add_column(column)
    return out


def print_table(table_: Table) -> None:
    """Print a table to stdout."""
    console().print(table_)


TIME_SUFFIXES = ("_at", "_until")
TIME_KEYS = frozenset(
    {"at", "now", "slot", "last_slot", "next_slot", "last_seen", "next_deadline", "next_due"}
)
"""Keys whose numbers are moments (epoch seconds inside Conveyor); every other number in a
JSON document (a duration, a count, an id) is printed as it is."""


def print_json(document: Any) -> None:
    """Print one JSON document (sorted keys are not forced; field order is kept).

    Moments (the keys of :data:`TIME_SUFFIXES` and :data:`TIME_KEYS`) are ISO 8601 strings in
    UTC with their offset, e.g. ``"2026-05-04T10:00:00.250+00:00"``, for scripts to parse
    with any library; docs/cli.md lists the rule.
    """
    text = json.dumps(document, indent=2, default=_jsonable, ensure_ascii=False)
    click.echo(json.dumps(_with_iso_times(json.loads(text)), indent=2, ensure_ascii=False))


def iso_time(moment: float) -> str:
    """Epoch seconds as ISO 8601 in UTC, to the millisecond, with the ``+00:00`` offset."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


def _is_time_key(key: str) -> bool:
    return key in TIME_KEYS or key.endswith(TIME_SUFFIXES)


def _with_iso_times(value: Any, key: str = "") -> Any:
    """``value`` (plain JSON data) with every moment as an ISO 8601 string."""
    if isinstance(value, dict):
        return {k: _with_iso_times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_iso_times(v, key) for v in value]
    if (
        _is_time_key(key)
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    ):
        return iso_time(value)
    return value


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def to_dict(record: Any) -> dict[str, Any]:
    """A record (job, attempt, worker, queue stats) as a JSON-ready dict."""
    out: dict[str, Any] = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    for key, value in out.items():
        if isinstance(value, tuple):
            out[key] = list(value)
    if isinstance(record, Attempt):
        out["duration"] = record.duration
    return out












def first_line(text: str | None, limit: int = 60) -> str:
    """The first line of ``text``, cut to ``limit`` characters with an ellipsis."""
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def plural(count: int, noun: str) -> str:
    """``1 attempt``, ``3 attempts``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def state(value: JobState) -> str:
    """A job state with its colour, as rich markup."""
    return f"[{STATE_STYLES[value]}]{value}[/]"


def error_of(job: Job, limit: int = 40) -> str:
    """``Type: first line of message`` for a job's last error, or empty."""
    if not job.error_type and not job.error_message:
        return ""
    text = f"{job.error_type or 'error'}: {first_line(job.error_message, 200)}"
    return first_line(text, limit)


def escape(text: str) -> str:
    """Escape rich markup in user data (names, messages) before putting it in a table."""
    return text.replace("[", r"\[")


def worker_names(workers: Iterable[WorkerInfo]) -> str:
    """A short list of worker ids for messages."""
    ids = [w.id for w in workers]
    return ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
