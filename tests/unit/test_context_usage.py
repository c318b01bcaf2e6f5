"""``ctx.usage``: units add up over an attempt; bad names and values are refused clearly and
record nothing of the call."""

from __future__ import annotations

import math

import pytest

from conveyor._context import JobContext
from conveyor.errors import UsageError


def _ctx() -> JobContext:
    return JobContext(job_id=1, name="a", queue="q", attempt=1, max_attempts=1, deadline=None,
                      worker_id="w")


def test_reports_add_up_per_unit() -> None:
    ctx = _ctx()
    ctx.usage(tokens=10, cost=0.5)
    ctx.usage(tokens=5)
    ctx.usage(cost=-0.25)  # a correction
    assert ctx.take_units() == {"tokens": 15.0, "cost": 0.25}


@pytest.mark.parametrize(
    ("units", "message"),
    [
        ({"tokens": "10"}, "tokens must be a number, got str '10'"),
        ({"tokens": True}, "tokens must be a number, got bool True"),
        ({"cost": math.nan}, "cost must be a finite number, got nan"),
        ({"cost": math.inf}, "cost must be a finite number, got inf"),
        ({"input tokens": 1}, "unit names are identifiers like tokens or cost, got 'input tokens'"),
    ],
)
def test_bad_reports_are_refused_and_record_nothing(units: dict[str, object], message: str) -> None:
    ctx = _ctx()
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        ctx.usage(ok=1, **units)  # type: ignore[arg-type]
    assert ctx.take_units() == {}


def test_no_report_takes_an_empty_dict_of_its_own() -> None:
    ctx = _ctx()
    taken = ctx.take_units()
    assert taken == {}
    taken["x"] = 1.0  # the caller's copy: the next attempt's report starts empty
    ctx.usage(tokens=2)
    assert ctx.take_units() == {"tokens": 2.0}
