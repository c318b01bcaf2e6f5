"""A run's stage graph drawn on the server as SVG (no script, no library).

:func:`layout` places each stage in a column by its depth (a stage sits right of all its
parents: one more than its deepest parent) and orders each column by where its parents sit,
so edges mostly run straight. It returns plain geometry; the template ``_macros.html`` draws
boxes (coloured by state through CSS classes) and edges as ``<path>`` elements, so every name
passes through the template's escaping like any other text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conveyor.store.contract.run_records import StageRunInfo

BOX_WIDTH = 176
BOX_HEIGHT = 60
COLUMN_GAP = 56
ROW_GAP = 22
PAD = 12
NAME_CHARS = 22
"""Longest stage name drawn in full in a box (the tooltip and the table have it all)."""


@dataclass(frozen=True, slots=True)
class Box:
    """One stage: where it sits and the lines it shows."""

    name: str
    label: str
    """The name, shortened to fit the box."""
    state: str
    detail: str
    """``3 attempts`` / ``9,997 of 10,000 items · 2 failed`` / ``waiting for 1 parent``."""
    fan_out: bool
    x: float
    y: float
    title: str
    """The tooltip: name, state and detail in full."""


@dataclass(frozen=True, slots=True)
class Edge:
    """A parent -> child arrow, as an SVG path."""

    path: str
    state: str
    """The parent's state: an edge out of a succeeded stage is drawn solid."""


@dataclass(frozen=True, slots=True)
class Graph:
    """The drawn graph: its size, boxes, edges, and a sentence for screen readers."""

    width: int
    height: int
    box_width: int
    box_height: int
    boxes: tuple[Box, ...]
    edges: tuple[Edge, ...]
    caption: str


def depths(stages: Sequence[StageRunInfo]) -> dict[str, int]:
    """Each stage's column: 0 for a first stage, else one more than its deepest parent."""
    by_name = {s.stage: s for s in stages}
    found: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str]) -> int:
        if name in found:
            return found[name]
        parents = [p for p in by_name[name].parents if p in by_name and p not in seen]
        value = 1 + max((depth(p, seen | {name}) for p in parents), default=-1)
        found[name] = value
        return value

    for stage in stages:
        depth(stage.stage, frozenset())
    return found


def detail(stage: StageRunInfo, attempts: int | None) -> str:
    """The box's second line."""
    if stage.fan_out and stage.items_total:
        done = stage.items_total - stage.items_left
        failed = f" · {stage.items_failed:,} failed" if stage.items_failed else ""
        return f"{done:,}/{stage.items_total:,} items{failed}"
    if stage.fan_out and stage.state == "active":
        return "writing its items"
    if stage.state == "waiting" and stage.pending_parents:
        n = stage.pending_parents
        return f"waiting for {n} parent{'s' if n != 1 else ''}"
    if attempts:
        return f"{attempts} attempt{'s' if attempts != 1 else ''}"
    return "fan-out" if stage.fan_out else ""


def layout(stages: Sequence[StageRunInfo], attempts: Sequence[int | None]) -> Graph:
    """Place the stages (in the run's order, with each one's current attempts) as a graph."""
    column_of = depths(stages)
    columns: dict[int, list[StageRunInfo]] = {}
    for stage in stages:
        columns.setdefault(column_of[stage.stage], []).append(stage)
    row_of: dict[str, float] = {}
    for column in sorted(columns):
        members = columns[column]
        # Order by the mean row of the parents (ties keep the run's order): fewer crossings.
        order = sorted(
            range(len(members)),
            key=lambda i: (_mean(row_of.get(p) for p in members[i].parents), i),
        )
        for row, index in enumerate(order):
            row_of[members[index].stage] = row
    tries = dict(zip((s.stage for s in stages), attempts, strict=True))
    boxes = []
    where: dict[str, tuple[float, float]] = {}
    for stage in stages:
        x = PAD + column_of[stage.stage] * (BOX_WIDTH + COLUMN_GAP)
        y = PAD + row_of[stage.stage] * (BOX_HEIGHT + ROW_GAP)
        where[stage.stage] = (x, y)
        line = detail(stage, tries[stage.stage])
        label = (stage.stage if len(stage.stage) <= NAME_CHARS
                 else stage.stage[:NAME_CHARS - 1] + "…")
        boxes.append(Box(stage.stage, label, str(stage.state), line, stage.fan_out, x, y,
                         f"{stage.stage}: {stage.state}" + (f", {line}" if line else "")))
    edges = []
    by_name = {s.stage: s for s in stages}
    for stage in stages:
        cx, cy = where[stage.stage]
        for parent in stage.parents:
            if parent not in where:
                continue
            px, py = where[parent]
            x1, y1 = px + BOX_WIDTH, py + BOX_HEIGHT / 2
            x2, y2 = cx - 6, cy + BOX_HEIGHT / 2  # stop short: the arrowhead ends at the box
            bend = (x2 - x1) / 2
            edges.append(Edge(f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} "
                              f"{x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}",
                              str(by_name[parent].state)))
    width = PAD * 2 + (max(column_of.values(), default=0) + 1) * (BOX_WIDTH + COLUMN_GAP)
    width -= COLUMN_GAP
    rows = max((len(m) for m in columns.values()), default=1)
    height = PAD * 2 + rows * (BOX_HEIGHT + ROW_GAP) - ROW_GAP
    states = ", ".join(f"{s.stage} {s.state}" for s in stages)
    return Graph(int(width), int(height), BOX_WIDTH, BOX_HEIGHT, tuple(boxes), tuple(edges),
                 f"Stage graph of {len(stages)} stage{'s' if len(stages) != 1 else ''}: "
                 f"{states}")


def _mean(values: Iterable[float | None]) -> float:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else 0.0
