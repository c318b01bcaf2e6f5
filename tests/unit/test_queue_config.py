"""Unit: ``app.configure_queue`` validation and the backpressure bookkeeping behind it."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor import ConfigurationError, Conveyor
from conveyor._backpressure import Demand, demands, wait_seconds
from conveyor.store.protocol import NewJob


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10", []])
def test_max_queued_must_be_a_positive_int(bad: object) -> None:
    app = Conveyor("sqlite:///unused.db")
    with pytest.raises(ConfigurationError, match="max_queued must be a positive int"):
        app.configure_queue("emails", max_queued=bad)  # type: ignore[arg-type]
    assert app.queue_limits == {}


def test_configure_queue_checks_the_name() -> None:
    with pytest.raises(ConfigurationError, match="queue name"):
        Conveyor("sqlite:///unused.db").configure_queue("no spaces", max_queued=5)


def test_configure_queue_sets_and_clears_the_limit() -> None:
    app = Conveyor("sqlite:///unused.db")
    app.configure_queue("emails", max_queued=10_000)
    assert app.queue_limits == {"emails": 10_000}
    app.configure_queue("emails", max_queued=None)
    assert app.queue_limits == {}


def test_wait_for_room_is_a_duration() -> None:
    assert wait_seconds(None) is None
    assert wait_seconds("30s") == 30.0
    assert wait_seconds(1.5) == 1.5
    with pytest.raises(ConfigurationError, match="wait_for_room"):
        wait_seconds("soon")


def test_a_bad_wait_for_room_is_refused_even_for_an_unbounded_queue(tmp_path: Path) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'c.db'}")

    @app.job(name="noop")
    def noop(ctx: object) -> None:
        return None

    with pytest.raises(ConfigurationError, match="wait_for_room"):
        noop.enqueue(wait_for_room="soon")
    app.close()


def test_demands_group_jobs_of_bounded_queues() -> None:
    def job(queue: str) -> NewJob:
        return NewJob(queue=queue, name="n", args_json="{}", max_attempts=1)

    jobs = [job("a"), job("b"), job("a"), job("c")]
    assert demands(jobs, {"a": 5, "c": 1}) == [Demand("a", 2, 5), Demand("c", 1, 1)]
    assert demands(jobs, {}) == []
