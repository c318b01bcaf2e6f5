"""The pipeline the web tests of runs drive: extract -> transform (fan-out) -> load.

``transform`` fails for good on a line without a price, so a feed with such a line fails the
run at that item (policy ``fail``) and ``resume`` with a corrected input finishes it. The
stage functions live at module level so their annotations resolve; :func:`make_run_app`
declares them on a fresh app. Runs are driven by :func:`conveyor.testing.drain`, the real
worker in burst mode, in this process.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from conveyor import Conveyor, Permanent
from conveyor.models import RunState
from conveyor.testing import drain

from .conftest import make_app

GOOD_FEED = "apple, 1.20\npear, 0.90\nplum, 0.85\n"
BAD_FEED = "apple, 1.20\npear, n/a\nplum, 0.85\n"


class Row(BaseModel):
    sku: str
    cents: int


def extract(ctx: Any, feed: str) -> list[str]:
    return [line for line in feed.splitlines() if line.strip()]


def transform(ctx: Any, line: str) -> Row:
    sku, _, price = line.partition(",")
    if not price.strip().replace(".", "", 1).isdigit():
        raise Permanent(f"no price in {line!r}")
    return Row(sku=sku.strip(), cents=round(float(price) * 100))


def load(ctx: Any, rows: list[Row]) -> int:
    return len(rows)


def declare(app: Conveyor, name: str = "etl", policy: str = "fail") -> None:
    """Declare the pipeline ``name`` on ``app`` (queue ``etl``)."""
    etl = app.pipeline(name)
    first = etl.stage(queue="etl")(extract)
    second = etl.stage(after=first, each=lambda lines: lines, on_item_failure=policy,
                       queue="etl")(transform)
    etl.stage(after=second, queue="etl")(load)


def make_run_app(url: str) -> Conveyor:
    """The web tests' app (:func:`make_app`) with pipeline ``etl`` declared on it."""
    app = make_app(url)
    declare(app)
    return app


def finish_runs(app: Conveyor) -> None:
    """Run every ready stage job until none is left (the real worker, in burst mode)."""
    drain(app, queues=["etl"], timeout=60)


def run_state(app: Conveyor, run_id: int) -> RunState:
    """The run's state now."""
    run = app.store.get_run(run_id)
    assert run is not None
    return run.state
