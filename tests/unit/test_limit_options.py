"""Unit: declaring concurrency and rate limits, and the keys one call counts against.

``prepare()`` writes nothing, so these tests never open the store except the last, which
enqueues through a real SQLite file and runs the jobs with ``drain``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor import ArgumentError, Concurrency, ConfigurationError, Conveyor, JobState, Rate
from conveyor.testing import drain


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Conveyor]:
    app = Conveyor(f"sqlite:///{tmp_path / 'conveyor.db'}")
    yield app
    app.close()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "5", None])
def test_concurrency_max_must_be_a_positive_int(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"Concurrency\(max\) must be a positive int"):
        Concurrency(bad)


@pytest.mark.parametrize("bad", ["", 5, b"k"])
def test_a_key_must_be_a_non_empty_template(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="key must be None"):
        Concurrency(3, key=bad)
    with pytest.raises(ConfigurationError, match="key must be None"):
        Rate(3, per="1s", key=bad)


@pytest.mark.parametrize(
    ("per", "seconds"), [("1m", 60.0), (2, 2.0), (0.5, 0.5), (timedelta(hours=1), 3600.0)]
)
def test_rate_per_is_a_duration_stored_as_seconds(per: Any, seconds: float) -> None:
    assert Rate(10, per=per).per == seconds
    assert Rate(10, per=per).seconds == seconds


@pytest.mark.parametrize("bad", [0, "0s", "soon", -1, None])
def test_rate_per_must_be_a_positive_duration(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"Rate\(per=...\)"):
        Rate(10, per=bad)


def test_limit_and_rate_take_their_own_types(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match=r"limit= takes conveyor.Concurrency"):
        app.job(limit=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"rate= takes conveyor.Rate"):
        app.job(rate=Concurrency(5))  # type: ignore[arg-type]


def test_a_key_field_must_name_a_parameter_or_tenant(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match=r"limit='v:\{vendr\}' uses \{vendr\}"):

        @app.job(limit=Concurrency(3, key="v:{vendr}"))
        def call(ctx: Any, vendor: str) -> None: ...


def test_without_a_key_the_limit_is_per_job_type(app: Conveyor) -> None:
    @app.job(name="sync_all", limit=Concurrency(2), rate=Rate(5, per="1m"))
    def sync_all(ctx: Any, n: int) -> None: ...

    job = sync_all.prepare(n=1)
    assert (job.limit_key, job.limit_max) == ("sync_all", 2)
    assert (job.rate_key, job.rate_max, job.rate_per) == ("sync_all", 5, 60.0)


def test_keys_are_filled_from_arguments_and_tenant(app: Conveyor) -> None:
    @app.job(
        limit=Concurrency(5, key="vendor:{vendor}"), rate=Rate(100, per="1m", key="t:{tenant}")
    )
    def call(ctx: Any, vendor: str, n: int = 0) -> None: ...

    job = call.prepare(vendor="acme", tenant="t-1")
    assert (job.limit_key, job.limit_max) == ("vendor:acme", 5)
    assert (job.rate_key, job.rate_max, job.rate_per) == ("t:t-1", 100, 60.0)


def test_a_tenant_key_without_a_tenant_says_to_pass_one(app: Conveyor) -> None:
    @app.job(rate=Rate(100, per="1m", key="{tenant}"))
    def call(ctx: Any, n: int) -> None: ...

    with pytest.raises(ArgumentError, match=r"uses \{tenant\}, so enqueue it with tenant="):
        call.prepare(n=1)


def test_a_plain_job_has_no_limits(app: Conveyor) -> None:
    @app.job
    def plain(ctx: Any) -> None: ...

    job = plain.prepare()
    assert (job.limit_key, job.rate_key, job.limit_max, job.rate_max) == (None,) * 4
    assert not plain.limited


def test_limited_jobs_run_through_a_worker(app: Conveyor) -> None:
    @app.job(name="limited", limit=Concurrency(1, key="k:{n}"), rate=Rate(50, per="1s"))
    def limited(ctx: Any, n: int) -> int:
        return n * 2

    handles = [limited.enqueue(n=n % 2) for n in range(4)]
    drain(app)
    assert [h.refresh().state for h in handles] == [JobState.SUCCEEDED] * 4
