"""What ``conveyor demo`` shows while it runs: a live board on a terminal, plain lines elsewhere.

Both views are fed the same snapshots: the demo's jobs as the store holds them, polled several
times a second. State changes between two snapshots become events.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from conveyor.cli import render
from conveyor.models import Job, JobState

BOARD_STATES = (
    JobState.SCHEDULED,
    JobState.QUEUED,
    JobState.RUNNING,
    JobState.RETRYING,
    JobState.SUCCEEDED,
    JobState.DEAD,
)
QUIET_NAMES = frozenset({"demo.send_welcome"})
"""Job types too numerous to narrate one by one; the board counts them instead."""


@dataclass
class Snapshot:
    """The demo's jobs at one moment, and the events since the previous snapshot."""

    jobs: Sequence[Job]
    elapsed: float
    events: list[str] = field(default_factory=list)


class Tracker:
    """Turns successive job lists into human events ("job 7 demo.sync_crm: retrying ...")."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[JobState, int]] = {}
        self._quiet_done: Counter[str] = Counter()

    def update(self, jobs: Sequence[Job], elapsed: float) -> Snapshot:
        """Compare ``jobs`` with the last call and describe what changed."""
        events = []
        stamp = f"{elapsed:5.1f}s"
        for job in sorted(jobs, key=lambda j: j.id):
            key = (job.state, job.attempt)
            before = self._seen.get(job.id)
            self._seen[job.id] = key
            if before == key or before is None:
                continue
            if job.name in QUIET_NAMES:
                if job.state.is_final:
                    self._quiet_done[job.name] += 1
                    done = self._quiet_done[job.name]
                    total = sum(1 for j in jobs if j.name == job.name)
                    if done == total:
                        events.append(f"{stamp}  all {total} {job.name} jobs finished")
                continue
            events.append(f"{stamp}  job {job.id} {job.name}: {_describe(job)}")
        return Snapshot(jobs=jobs, elapsed=elapsed, events=events)


def _describe(job: Job) -> str:
    if job.state is JobState.RUNNING:
        return f"running (attempt {job.attempt} of {job.max_attempts})"
    if job.state is JobState.RETRYING:
        return f"attempt {job.attempt} failed, will retry ({render.error_of(job, 30)})"
    if job.state is JobState.DEAD:
        return f"dead-letter queue after {render.plural(job.attempt, 'attempt')} " \
               f"({render.error_of(job, 24)})"
    if job.state is JobState.SUCCEEDED:
        tries = f" on attempt {job.attempt}" if job.attempt > 1 else ""
        return f"succeeded{tries}"
    return str(job.state)


class View(Protocol):
    """Where snapshots are shown."""

    def __enter__(self) -> View: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def show(self, snapshot: Snapshot) -> None:
        """Display one snapshot."""


class PlainView:
    """For logs and CI: event lines, and a line of counts at most once a second."""

    def __init__(self) -> None:
        self._last_counts = ""
        self._last_time = 0.0

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def show(self, snapshot: Snapshot) -> None:
        """Print new events, then the counts when they changed (throttled)."""
        for event in snapshot.events:
            click.echo(event)
        counts = Counter(job.state for job in snapshot.jobs)
        line = ", ".join(f"{counts[s]} {s}" for s in BOARD_STATES if counts[s])
        now = time.monotonic()
        if line != self._last_counts and now - self._last_time >= 1.0:
            click.echo(f"{snapshot.elapsed:5.1f}s  jobs: {line}")
            self._last_counts, self._last_time = line, now


class LiveView:
    """For a terminal: a board redrawn several times a second with rich.live."""

    def __init__(self, console: Console, title: str) -> None:
        self.title = title
        self.events: deque[str] = deque(maxlen=8)
        self.live = Live(console=console, refresh_per_second=8, transient=False)

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.live.__exit__(kind, exc, tb)

    def show(self, snapshot: Snapshot) -> None:
        """Redraw the board."""
        self.events.extend(snapshot.events)
        self.live.update(self._board(snapshot))

    def _board(self, snapshot: Snapshot) -> RenderableType:
        head = Text.from_markup(f"[bold]{self.title}[/]  [dim]{snapshot.elapsed:.1f}s[/]")
        parts: list[RenderableType] = [head, _counts(snapshot.jobs), _running(snapshot.jobs)]
        recent = Text("\n".join(self.events) or "waiting for the first job to start…",
                      style="dim" if not self.events else "")
        parts += [Text("recent events", style="bold"), recent]
        return Group(*parts)


def _counts(jobs: Sequence[Job]) -> Table:
    out = render.table("queue", *(str(s) for s in BOARD_STATES))
    for column in out.columns[1:]:
        column.justify = "right"
    by_queue: dict[str, Counter[JobState]] = {}
    for job in jobs:
        by_queue.setdefault(job.queue, Counter())[job.state] += 1
    for queue, counts in sorted(by_queue.items()):
        out.add_row(queue, *(_count(counts[s], s) for s in BOARD_STATES))
    return out


def _count(value: int, state: JobState) -> str:
    return f"[{render.STATE_STYLES[state]}]{value}[/]" if value else "[dim]0[/]"


def _running(jobs: Sequence[Job]) -> RenderableType:
    running = [j for j in jobs if j.state is JobState.RUNNING]
    if not running:
        return Text("no job running right now", style="dim")
    out = render.table("running", "name", "try", "progress", "")
    for job in sorted(running, key=lambda j: j.id)[:8]:
        bar: RenderableType = (
            Text("(no progress reported)", style="dim") if job.progress is None
            else ProgressBar(total=1.0, completed=job.progress, width=20)
        )
        out.add_row(f"job {job.id}", job.name, f"{job.attempt}/{job.max_attempts}", bar,
                    render.first_line(job.progress_message, 16))
    return out


def make_view(console: Console, title: str) -> View:
    """A live board when stdout is a terminal, plain lines otherwise."""
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveView(console, title)
    return PlainView()
