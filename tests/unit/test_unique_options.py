"""Unit: declaring unique jobs (key templates, unique_for) and the per-call options.

``prepare()`` writes nothing, so most tests never open the store; the last ones enqueue through
a real SQLite file to check what a duplicate's handle says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest

from conveyor import ArgumentError, ConfigurationError, Conveyor, JobOptions, JobState
from conveyor._names import MAX_KEY_LENGTH
from conveyor._unique import FOREVER, to_unique_for
from conveyor.testing import drain


class Order(pydantic.BaseModel):
    id: int


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Conveyor]:
    app = Conveyor(f"sqlite:///{tmp_path / 'conveyor.db'}")
    yield app
    app.close()


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (None, None),
        (0, None),
        (600, 600.0),
        (2.5, 2.5),
        ("10m", 600.0),
        (timedelta(hours=1), 3600.0),
        ("forever", FOREVER),
        ("  Forever ", FOREVER),
    ],
)
def test_unique_for_values(value: Any, stored: float | None) -> None:
    assert to_unique_for(value) == stored


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (-1, "unique_for must be zero or positive"),
        ("soon", "unique_for 'soon' is not a duration"),
        (True, "unique_for must be a duration, not a bool"),
        ([1], "unique_for must be None, a duration"),
        (float("inf"), "unique_for must be finite"),
    ],
)
def test_bad_unique_for_is_refused(value: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        to_unique_for(value)


def test_unique_for_needs_a_template() -> None:
    with pytest.raises(ConfigurationError, match="unique_for= needs unique= too"):
        JobOptions.build(unique_for="10m")


@pytest.mark.parametrize(
    ("template", "match"),
    [
        ("charge:{order}", r"uses \{order\}, which is not a parameter .*order_id, amount"),
        ("charge:{}", r"positional field \{\}; name a parameter"),
        ("charge:{0}", r"positional field \{0\}"),
        ("charge:{order_id", "not a valid format template"),
        ("charge:{ctx}", r"\{ctx\}, which is not a parameter"),
        ("", "non-empty key template"),
    ],
)
def test_bad_templates_fail_at_declaration(app: Conveyor, template: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):

        @app.job(unique=template)
        def charge(ctx: Any, order_id: int, amount: int = 0) -> None: ...


def test_a_non_string_template_is_refused(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="non-empty key template"):
        app.job(unique=42)  # type: ignore[arg-type]


def test_template_is_filled_from_bound_arguments_with_defaults(app: Conveyor) -> None:
    @app.job(unique="charge:{order_id}:{currency}", unique_for="1h")
    def charge(ctx: Any, order_id: int, currency: str = "eur") -> None: ...

    assert charge.prepare(7).unique_key == "charge:7:eur"
    job = charge.prepare(order_id=7, currency="usd")
    assert (job.unique_key, job.unique_for) == ("charge:7:usd", 3600.0)


def test_attribute_and_index_fields_and_format_specs(app: Conveyor) -> None:
    @app.job(unique="o:{order.id}:{tags[0]}:{amount:08.2f}")
    def ship(ctx: Any, order: Order, tags: list[str], amount: float) -> None: ...

    job = ship.prepare(order=Order(id=3), tags=["a", "b"], amount=1.5)
    assert job.unique_key == "o:3:a:00001.50"


def test_a_template_that_cannot_be_filled_is_an_argument_error(app: Conveyor) -> None:
    @app.job(unique="k:{value:d}")
    def count(ctx: Any, value: Any) -> None: ...

    with pytest.raises(ArgumentError, match=r"template 'k:\{value:d\}' could not be filled"):
        count.prepare(value="not a number")


def test_per_call_options(app: Conveyor) -> None:
    @app.job(unique="charge:{order_id}", unique_for="forever")
    def charge(ctx: Any, order_id: int) -> None: ...

    @app.job
    def plain(ctx: Any, x: int) -> None: ...

    assert charge.prepare(1).unique_for == FOREVER
    overridden = charge.prepare(1, unique_key="manual", unique_for=30)
    assert (overridden.unique_key, overridden.unique_for) == ("manual", 30.0)
    assert charge.prepare(1, unique_for=None).unique_for is None
    assert plain.prepare(x=1).unique_key is None
    literal = plain.prepare(x=1, unique_key="only-once", unique_for="forever")
    assert (literal.unique_key, literal.unique_for) == ("only-once", FOREVER)
    with pytest.raises(ConfigurationError, match="unique_key must be a non-empty string"):
        plain.prepare(x=1, unique_key=5)
    with pytest.raises(ConfigurationError, match=r"unique_for=...\) on job .* needs a unique key"):
        plain.prepare(x=1, unique_for="1h")
    assert plain.prepare(x=1, tenant="acme").tenant == "acme"


def test_a_duplicate_handle_is_the_holders(app: Conveyor) -> None:
    @app.job(unique="welcome:{user_id}", unique_for="forever")
    def welcome(ctx: Any, user_id: int) -> int:
        return user_id

    first = welcome.enqueue(user_id=1)
    again = welcome.enqueue(user_id=1)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert (again.id, again.state, again.held_until) == (first.id, JobState.QUEUED, None)
    many = welcome.enqueue_many([{"user_id": 2}, {"user_id": 1}, {"user_id": 2}])
    assert [h.duplicate for h in many] == [False, True, True]
    assert many[1].id == first.id and many[2].id == many[0].id
    drain(app)
    after = asyncio.run(welcome.enqueue_async(user_id=1))
    assert (after.id, after.state, after.duplicate) == (first.id, JobState.SUCCEEDED, True)
    assert after.result(timeout=1) == 1


def test_a_unique_key_past_the_key_length_is_refused_before_anything_is_written() -> None:
    app = Conveyor("sqlite:///:memory:")

    @app.job(unique="k:{text}")
    def keyed(ctx: object, text: str) -> None:
        return None

    with pytest.raises(ArgumentError, match=f"longer than {MAX_KEY_LENGTH} characters"):
        keyed.prepare(text="x" * MAX_KEY_LENGTH)
    with pytest.raises(ConfigurationError, match=f"longer than {MAX_KEY_LENGTH} characters"):
        keyed.prepare(text="x", unique_key="y" * (MAX_KEY_LENGTH + 1))
