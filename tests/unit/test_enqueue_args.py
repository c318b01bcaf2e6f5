"""Unit: argument checking at enqueue (ArgsSpec) through a real app on a temporary SQLite file.

Every refused enqueue must leave the store empty, so each error test ends by counting jobs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pydantic
import pytest

from conveyor import (
    ArgumentError,
    ConfigurationError,
    Conveyor,
    JobDefinition,
    JobState,
    PayloadTooLargeError,
    UnknownJobError,
)
from conveyor._args import RESERVED
from conveyor.store.protocol import JobFilter


class Point(pydantic.BaseModel):
    x: int
    y: int
    label: str = ""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Conveyor]:
    app = Conveyor(f"sqlite:///{tmp_path / 'conveyor.db'}", max_payload_bytes=200)
    yield app
    app.close()


@pytest.fixture
def jobs(app: Conveyor) -> dict[str, JobDefinition[Any, Any]]:
    @app.job(name="send_welcome", queue="emails")
    def send_welcome(ctx: object, user_id: int, greeting: str = "hi") -> None:
        return None

    @app.job(name="anything")
    def anything(ctx: object, payload) -> None:  # type: ignore[no-untyped-def]
        return None

    @app.job(name="measure")
    def measure(ctx: object, value: float) -> None:
        return None

    @app.job(name="remind")
    def remind(ctx: object, when: datetime) -> None:
        return None

    @app.job(name="move")
    def move(ctx: object, point: Point, tags: set[str] | None = None) -> None:
        return None

    @app.job(name="flexible")
    def flexible(ctx: object, kind: str, **extra: Any) -> None:
        return None

    return {d.name: d for d in (send_welcome, anything, measure, remind, move, flexible)}


def count(app: Conveyor) -> int:
    return app.store.count_jobs(JobFilter())


def only_job_args(app: Conveyor) -> dict[str, Any]:
    (job,) = app.store.list_jobs(JobFilter())
    assert job.args is not None
    return job.args


# -- what goes in ------------------------------------------------------------------------------


def test_a_valid_enqueue_stores_the_arguments(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    handle = jobs["send_welcome"].enqueue(user_id=42)
    assert handle.state is JobState.QUEUED
    assert handle.name == "send_welcome"
    job = handle.refresh()
    assert job.queue == "emails"
    assert job.args == {"user_id": 42}  # defaults are not stored: the handler applies them
    assert job.max_attempts == 4


def test_positional_arguments_are_stored_by_name(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    jobs["send_welcome"].enqueue(7, "hello")
    assert only_job_args(app) == {"user_id": 7, "greeting": "hello"}


def test_enqueue_by_registered_name(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    handle = app.enqueue("send_welcome", user_id=1)
    assert handle.refresh().name == "send_welcome"
    with pytest.raises(UnknownJobError, match=r"no job named 'nope'.*known: .*send_welcome"):
        app.enqueue("nope", user_id=1)
    assert count(app) == 1


def test_a_numeric_string_is_coerced_to_the_annotated_int(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    jobs["send_welcome"].enqueue(user_id="42")
    assert only_job_args(app)["user_id"] == 42


def test_extra_keyword_arguments_go_to_a_var_keyword_parameter(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    jobs["flexible"].enqueue(kind="a", colour="red", size=[1, 2])
    assert only_job_args(app) == {"kind": "a", "colour": "red", "size": [1, 2]}


# -- what is refused, with nothing written -----------------------------------------------------


@pytest.mark.parametrize(
    ("job", "args", "kwargs", "error", "match"),
    [
        ("send_welcome", (), {}, ArgumentError, "missing a required argument: 'user_id'"),
        (
            "send_welcome",
            (),
            {"user_id": 1, "colour": "red"},
            ArgumentError,
            "unexpected keyword argument 'colour'",
        ),
        ("send_welcome", (1, "hi", "extra"), {}, ArgumentError, "too many positional"),
        ("send_welcome", (), {"user_id": "abc"}, ArgumentError, "argument 'user_id'='abc'"),
        ("send_welcome", (), {"user_id": 1.5}, ArgumentError, "argument 'user_id'"),
        ("send_welcome", (), {"user_id": None}, ArgumentError, "argument 'user_id'"),
        ("anything", (), {"payload": object()}, ArgumentError, "JSON"),
        ("flexible", (), {"kind": "a", "blob": object()}, ArgumentError, "JSON"),
        ("measure", (), {"value": math.nan}, ArgumentError, "not valid JSON"),
        ("measure", (), {"value": math.inf}, ArgumentError, "not valid JSON"),
        ("measure", (), {"value": "fast"}, ArgumentError, "argument 'value'"),
        ("remind", (), {"when": "not a date"}, ArgumentError, "argument 'when'"),
        ("move", (), {"point": {"x": 1}}, ArgumentError, "argument 'point'"),
    ],
)
def test_bad_arguments_raise_and_write_nothing(
    app: Conveyor,
    jobs: dict[str, JobDefinition[Any, Any]],
    job: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match) as caught:
        jobs[job].enqueue(*args, **kwargs)
    assert "nothing was enqueued" in str(caught.value)
    assert count(app) == 0


@pytest.mark.parametrize(
    "value",
    [{1, 2}, frozenset({"a"}), math.nan, math.inf, b"raw"],
    ids=["set", "frozenset", "nan", "inf", "bytes"],
)
def test_values_without_a_json_form_are_refused_for_unannotated_parameters(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]], value: object
) -> None:
    # A set, NaN or bytes has no JSON form (json.dumps refuses each); silently storing a list,
    # null or a string would hand the handler something other than what was enqueued.
    with pytest.raises(ArgumentError, match=r"JSON.*nothing was enqueued"):
        jobs["anything"].enqueue(payload=value)
    assert count(app) == 0


def test_nan_nested_in_a_structure_is_refused(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    with pytest.raises(ArgumentError, match="not valid JSON"):
        jobs["flexible"].enqueue(kind="a", data={"score": [1.0, math.nan]})
    assert count(app) == 0


def test_an_oversized_payload_raises_payload_too_large(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    with pytest.raises(PayloadTooLargeError, match="over the limit of 200 bytes") as caught:
        jobs["anything"].enqueue(payload="x" * 500)
    assert isinstance(caught.value, ArgumentError)
    assert "max_payload_bytes" in str(caught.value)
    assert count(app) == 0


def test_the_payload_limit_counts_utf8_bytes(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    overhead = len('{"payload":""}')
    room = 200 - overhead
    jobs["anything"].enqueue(payload="x" * room)
    jobs["anything"].enqueue(payload="é" * (room // 2))
    with pytest.raises(PayloadTooLargeError):
        jobs["anything"].enqueue(payload="x" * (room + 1))
    with pytest.raises(PayloadTooLargeError):
        jobs["anything"].enqueue(payload="é" * (room // 2 + 1))
    assert count(app) == 2


# -- options passed to enqueue -----------------------------------------------------------------


def test_naive_run_at_is_refused(app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]) -> None:
    with pytest.raises(ConfigurationError, match="run_at must be timezone-aware"):
        jobs["send_welcome"].enqueue(user_id=1, run_at=datetime(2030, 1, 1, 9, 0))
    with pytest.raises(ConfigurationError, match="run_at must be an aware datetime"):
        jobs["send_welcome"].enqueue(user_id=1, run_at=1_900_000_000.0)
    assert count(app) == 0


def test_aware_run_at_schedules_the_job(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    when = datetime.now(timezone(timedelta(hours=2))) + timedelta(hours=1)
    handle = jobs["send_welcome"].enqueue(user_id=1, run_at=when)
    assert handle.state is JobState.SCHEDULED
    assert handle.refresh().run_at == pytest.approx(when.timestamp())


def test_delay_priority_and_queue_options(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    before = app.store.now()
    handle = jobs["send_welcome"].enqueue(user_id=1, delay="5m", priority=9, queue="vip")
    job = handle.refresh()
    assert handle.state is JobState.SCHEDULED
    assert job.run_at >= before + 300
    assert job.priority == 9
    assert job.queue == "vip"
    assert job.args == {"user_id": 1}


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"delay": "soon"}, "delay 'soon' is not a duration"),
        ({"delay": -1}, "delay must be zero or positive"),
        ({"priority": True}, "priority must be an int"),
        ({"queue": "no spaces"}, "queue name 'no spaces'"),
        ({"connection": object()}, "on the SQLite store takes a sqlite3.Connection"),
        ({"unique_key": ""}, "unique_key must be a non-empty string"),
        ({"unique_for": "10m"}, r"needs a unique key"),
        ({"tenant": ""}, "tenant must be a non-empty string"),
        ({"tenant": 42}, "tenant must be a non-empty string"),
        ({"tenant": "x" * 201}, "longer than 200 characters"),
    ],
)
def test_bad_options_raise_and_write_nothing(
    app: Conveyor,
    jobs: dict[str, JobDefinition[Any, Any]],
    options: dict[str, Any],
    match: str,
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        jobs["send_welcome"].enqueue(user_id=1, **options)
    assert count(app) == 0


# -- enqueue_many ------------------------------------------------------------------------------


def test_enqueue_many_writes_every_job(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    handles = jobs["send_welcome"].enqueue_many([{"user_id": n} for n in range(5)], priority=2)
    assert len(handles) == 5
    assert [h.id for h in handles] == sorted(h.id for h in handles)
    stored = {j.id: j for j in app.store.list_jobs(JobFilter())}
    assert [stored[h.id].args["user_id"] for h in handles] == [0, 1, 2, 3, 4]  # type: ignore[index]
    assert {j.priority for j in stored.values()} == {2}


def test_enqueue_many_options_per_call_and_shared_arguments(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    # A batch's shared options are checked once (the lean path); a call naming an option of
    # its own, or an argument shared by every call, must still come out as before.
    calls = [{"user_id": 0}, {"user_id": 1, "priority": 7, "queue": "vip"}, {"user_id": 2}]
    handles = jobs["send_welcome"].enqueue_many(calls, delay=3600)
    stored = {j.id: j for j in app.store.list_jobs(JobFilter())}
    first, second, third = (stored[h.id] for h in handles)
    assert [j.priority for j in (first, second, third)] == [0, 7, 0]
    assert [j.queue for j in (first, second, third)] == ["emails", "vip", "emails"]
    assert {j.state for j in (first, second, third)} == {JobState.SCHEDULED}
    assert third.args == {"user_id": 2}
    shared = jobs["send_welcome"].enqueue_many([{"user_id": 5}, {"user_id": 6}], greeting="yo")
    assert [stored_args(app, h.id) for h in shared] == [
        {"user_id": 5, "greeting": "yo"},
        {"user_id": 6, "greeting": "yo"},
    ]


def stored_args(app: Conveyor, job_id: int) -> Any:
    job = app.store.get_job(job_id)
    assert job is not None
    return job.args


@pytest.mark.parametrize(
    ("calls", "error", "match"),
    [
        ([{"user_id": 1}, {"user_id": "abc"}, {"user_id": 3}], ArgumentError, "item 1"),
        ([{"user_id": 1}, {"user_id": 2}, {"user_id": 3, "nope": 1}], ArgumentError, "item 2"),
        ([{"user_id": 1}, {"nope": 1}], ArgumentError, "item 1"),
        ([{"user_id": 1}, ["user_id", 2]], ArgumentError, "item 1 is list"),
        ([{"user_id": 1}, {"user_id": 2, "delay": "soon"}], ConfigurationError, "delay"),
    ],
)
def test_enqueue_many_is_all_or_nothing(
    app: Conveyor,
    jobs: dict[str, JobDefinition[Any, Any]],
    calls: list[Any],
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        jobs["send_welcome"].enqueue_many(calls)
    assert count(app) == 0


@pytest.mark.parametrize(
    ("calls", "shared", "match"),
    [
        ([{"user_id": 1}, {"user_id": 2, "queue": "vip"}], {"queue": "bulk"}, "item 1: sets queue"),
        ([{"user_id": 1, "greeting": "hi"}], {"greeting": "yo"}, r"item 0: sets greeting"),
    ],
)
def test_enqueue_many_names_a_value_given_per_item_and_for_the_batch(
    app: Conveyor,
    jobs: dict[str, JobDefinition[Any, Any]],
    calls: list[dict[str, Any]],
    shared: dict[str, Any],
    match: str,
) -> None:
    # Was a bare TypeError ("got multiple values for keyword argument").
    with pytest.raises(ArgumentError, match=match):
        jobs["send_welcome"].enqueue_many(calls, **shared)
    assert count(app) == 0


# -- round trips through JSON ------------------------------------------------------------------


def test_datetime_arguments_round_trip(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    when = datetime(2030, 5, 17, 8, 30, 15, 123456, tzinfo=UTC)
    jobs["remind"].enqueue(when=when)
    stored = only_job_args(app)
    assert isinstance(stored["when"], str)
    decoded = jobs["remind"].args.decode(json.dumps(stored))
    assert decoded == {"when": when}
    assert isinstance(decoded["when"], datetime)


def test_pydantic_model_arguments_round_trip(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    point = Point(x=1, y=-2, label="origin-ish")
    jobs["move"].enqueue(point=point, tags={"a", "b"})
    stored = only_job_args(app)
    assert stored["point"] == {"x": 1, "y": -2, "label": "origin-ish"}
    assert sorted(stored["tags"]) == ["a", "b"]
    decoded = jobs["move"].args.decode(json.dumps(stored))
    assert decoded == {"point": point, "tags": {"a", "b"}}
    assert isinstance(decoded["point"], Point)


def test_a_model_given_as_a_dict_is_validated_and_stored(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    jobs["move"].enqueue(point={"x": "3", "y": 4})
    assert only_job_args(app)["point"] == {"x": 3, "y": 4, "label": ""}


@pytest.mark.parametrize(
    ("stored", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object, got list"),
        ('{"user_id": "abc"}', "stored argument 'user_id' no longer matches"),
        ('{"user_id": 1, "gone": 2}', "no longer fit"),
        ("{}", "no longer fit"),
    ],
)
def test_decoding_damaged_or_outdated_arguments_raises(
    jobs: dict[str, JobDefinition[Any, Any]], stored: str, match: str
) -> None:
    with pytest.raises(ArgumentError, match=match):
        jobs["send_welcome"].args.decode(stored)


# -- handler signatures checked at declaration -------------------------------------------------


def _declare(app: Conveyor, source: str, name: str = "declared") -> JobDefinition[Any, Any]:
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # a handler with a parameter name chosen by the test
    return app.job(name=name)(namespace["handler"])


@pytest.mark.parametrize(
    "source",
    [
        "def handler(): pass",
        "def handler(*, ctx): pass",
        "def handler(*args): pass",
        "def handler(**kwargs): pass",
    ],
)
def test_a_handler_without_a_ctx_parameter_is_refused(app: Conveyor, source: str) -> None:
    with pytest.raises(ConfigurationError, match="must take the job context as its first"):
        _declare(app, source)
    assert app.jobs == {}


@pytest.mark.parametrize("name", sorted(RESERVED))
def test_a_parameter_named_like_an_enqueue_option_is_refused(app: Conveyor, name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"parameter '{name}' collides"):
        _declare(app, f"def handler(ctx, {name}): pass")
    assert app.jobs == {}


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("def handler(ctx, *items): pass", r"\*items cannot be stored"),
        ("def handler(ctx, a, /, b): pass", "positional-only parameter 'a'"),
        ("def handler(ctx, x: 'Missing'): pass", "cannot resolve the handler's type annotations"),
    ],
)
def test_other_unstorable_signatures_are_refused(app: Conveyor, source: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        _declare(app, source)


def test_ctx_may_be_positional_only(app: Conveyor) -> None:
    definition = _declare(app, "def handler(ctx, /, n: int): pass")
    definition.enqueue(n=3)
    assert only_job_args(app) == {"n": 3}


def test_a_duplicate_job_name_is_refused(app: Conveyor) -> None:
    first = _declare(app, "def handler(ctx): pass", name="twice")
    with pytest.raises(ConfigurationError, match="job name 'twice' is registered twice"):
        _declare(app, "def handler(ctx, other): pass", name="twice")
    assert app.jobs == {"twice": first}


def test_registering_the_same_function_twice_is_refused(app: Conveyor) -> None:
    def handler(ctx: object) -> None:
        return None

    app.job(handler)
    with pytest.raises(ConfigurationError, match="registered twice"):
        app.job(queue="other")(handler)


def test_the_default_job_name_is_the_module_and_qualified_name(app: Conveyor) -> None:
    def handler(ctx: object) -> None:
        return None

    definition = app.job(handler)
    assert definition.name.startswith(handler.__module__ + ".")
    assert definition.name.endswith("handler")


def test_declaring_a_job_with_a_bad_name_is_refused(app: Conveyor) -> None:
    define: Callable[..., Any] = app.job(name="bad name")
    with pytest.raises(ConfigurationError, match="job name 'bad name'"):
        define(lambda ctx: None)


@pytest.mark.parametrize("option", ["connection", "wait_for_room"])
def test_whole_call_options_are_refused_per_job_not_dropped(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]], option: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"{option}= applies to a whole enqueue call"):
        jobs["send_welcome"].prepare(user_id=1, **{option: "30s"})
    with pytest.raises(ConfigurationError, match=f"{option}= applies to a whole enqueue call"):
        jobs["send_welcome"].enqueue_many([{"user_id": 1, option: "30s"}])
    assert count(app) == 0


# -- start deadlines -----------------------------------------------------------------------------


def test_start_deadline_options_are_checked_before_anything_is_written(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    send = jobs["send_welcome"]
    soon = datetime.now(UTC) + timedelta(minutes=10)
    assert send.prepare(user_id=1, expires_in="10m").expires_in == 600.0
    assert send.prepare(user_id=1, start_by=soon).start_by == soon.timestamp()
    assert send.prepare(user_id=1).start_by is None
    cases: list[tuple[dict[str, Any], str]] = [
        ({"expires_in": "10m", "start_by": soon}, "expires_in= .* or start_by= .*, not both"),
        ({"expires_in": 0}, "expires_in must be positive"),
        ({"expires_in": "later"}, "expires_in 'later' is not a duration"),
        ({"start_by": datetime(2030, 1, 1)}, "start_by must be a timezone-aware datetime"),
        ({"start_by": "2030-01-01"}, "start_by must be a timezone-aware datetime"),
        ({"start_by": soon, "run_at": soon + timedelta(seconds=1)}, "not after run_at"),
    ]
    for options, match in cases:
        with pytest.raises(ConfigurationError, match=match):
            send.enqueue(user_id=1, **options)
    assert count(app) == 0
    assert {"expires_in", "start_by"} <= RESERVED


def test_enqueue_many_takes_any_iterable_of_mappings(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    # A generator, and a mapping that is not a dict (the uniform path only reads dicts; the
    # rest of the batch is prepared job by job, with the same result).
    from types import MappingProxyType

    calls = ({"user_id": n} for n in range(3))
    handles = jobs["send_welcome"].enqueue_many(calls)
    assert [stored_args(app, h.id) for h in handles] == [{"user_id": n} for n in range(3)]
    mixed: list[Any] = [{"user_id": 7}, MappingProxyType({"user_id": 8}), {"user_id": 9}]
    handles = jobs["send_welcome"].enqueue_many(mixed)
    assert [stored_args(app, h.id) for h in handles] == [{"user_id": n} for n in (7, 8, 9)]


def test_enqueue_many_names_the_item_after_a_batch_changes_shape(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    # Items 0-1 take the uniform path, item 2 sets an option, item 3 is wrong: its index is
    # the batch's, not the index within the part prepared job by job.
    calls: list[dict[str, Any]] = [
        {"user_id": 0}, {"user_id": 1}, {"user_id": 2, "priority": 5}, {"user_id": "x"},
    ]
    with pytest.raises(ArgumentError, match="item 3"):
        jobs["send_welcome"].enqueue_many(calls)
    assert count(app) == 0


def test_a_lone_surrogate_is_a_clear_error_naming_the_item(
    app: Conveyor, jobs: dict[str, JobDefinition[Any, Any]]
) -> None:
    # No database can store it; a bare UnicodeEncodeError escaped before.
    with pytest.raises(ArgumentError, match=r"item 1: .*not valid Unicode"):
        jobs["anything"].enqueue_many([{"payload": "ok"}, {"payload": "bad \udc80"}])
    with pytest.raises(ArgumentError, match="not valid Unicode"):
        jobs["anything"].enqueue(payload="\ud800")
    assert count(app) == 0


def test_enqueue_many_fills_each_jobs_own_sequence_key(app: Conveyor) -> None:
    # The key is filled from each item's arguments: a batch shared the first item's (so
    # account 2's job waited behind account 1's) until sequences left the uniform path.
    @app.job(name="ledger", sequence="acct:{account}")
    def ledger(ctx: object, account: int) -> None:
        return None

    handles = ledger.enqueue_many([{"account": 1}, {"account": 2}, {"account": 1}])
    jobs = [app.store.get_job(h.id) for h in handles]
    assert [j.meta["sequence"] for j in jobs if j is not None] == ["acct:1", "acct:2", "acct:1"]
    assert [h.state for h in handles] == [JobState.QUEUED, JobState.QUEUED, JobState.HELD]
