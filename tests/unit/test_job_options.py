"""Unit: validation of a job's declared policy (JobOptions.build and @app.job options)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from conveyor import Backoff, ConfigurationError, Conveyor, JobOptions
from conveyor._jobs import DEFAULT_QUEUE, DEFAULT_RETRIES, MAX_PRIORITY
from conveyor.worker.supervisor import untimed_jobs, warn_untimed


def test_defaults() -> None:
    options = JobOptions.build()
    assert options.queue == DEFAULT_QUEUE
    assert options.priority == 0
    assert options.retries == DEFAULT_RETRIES
    assert options.max_attempts == DEFAULT_RETRIES + 1
    assert options.backoff == Backoff()
    assert options.timeout is None
    assert options.retry_on == ()
    assert options.give_up_on == ()


def test_valid_options_are_normalised() -> None:
    backoff = Backoff(base=2.0, cap=60.0)
    options = JobOptions.build(
        queue="emails",
        priority=-5,
        retries=0,
        backoff=backoff,
        timeout="1m30s",
        retry_on=ValueError,
        give_up_on=[KeyError, PermissionError],
    )
    assert options.queue == "emails"
    assert options.priority == -5
    assert options.retries == 0
    assert options.max_attempts == 1
    assert options.backoff is backoff
    assert options.timeout == 90.0
    assert options.retry_on == (ValueError,)
    assert options.give_up_on == (KeyError, PermissionError)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"retries": -1}, "retries must be a whole number of retries, 0 or more, got -1"),
        ({"retries": True}, "retries must be a whole number.*got True"),
        ({"retries": 2.5}, "retries must be a whole number.*got 2.5"),
        ({"retries": "3"}, "retries must be a whole number.*got '3'"),
        ({"retries": None}, "retries must be a whole number.*got None"),
        ({"max_snoozes": -1}, r"max_snoozes must be a whole number, 0 or more \(or None"),
        ({"max_snoozes": 1.5}, "max_snoozes must be a whole number.*got 1.5"),
        ({"max_snoozes": True}, "max_snoozes must be a whole number.*got True"),
        ({"backoff": "exponential"}, "backoff must be a conveyor.Backoff"),
        ({"backoff": {"base": 1}}, "backoff must be a conveyor.Backoff"),
        ({"backoff": 5}, "backoff must be a conveyor.Backoff"),
        ({"timeout": 0}, "timeout must be positive"),
        ({"timeout": "0s"}, "timeout must be positive"),
        ({"timeout": -1}, "timeout must be zero or positive"),
        ({"timeout": "soon"}, "timeout 'soon' is not a duration"),
        ({"timeout": True}, "timeout must be a duration, not a bool"),
        ({"retry_on": "ValueError"}, "retry_on takes exception classes, got 'ValueError'"),
        ({"retry_on": ValueError("x")}, "retry_on takes exception classes"),
        ({"retry_on": int}, "retry_on takes exception classes, got <class 'int'>"),
        ({"retry_on": (ValueError, 3)}, "retry_on takes exception classes, got 3"),
        ({"give_up_on": object}, "give_up_on takes exception classes"),
        ({"queue": "bad queue"}, "queue name 'bad queue' may hold only"),
        ({"queue": ""}, "queue name must be a non-empty string"),
        ({"priority": True}, "priority must be an int"),
        ({"priority": 1.5}, "priority must be an int"),
        ({"priority": MAX_PRIORITY + 1}, "priority must be within"),
        ({"priority": -MAX_PRIORITY - 1}, "priority must be within"),
    ],
)
def test_invalid_options_raise_configuration_error(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        JobOptions.build(**kwargs)


def test_priority_bounds_are_inclusive() -> None:
    assert JobOptions.build(priority=MAX_PRIORITY).priority == MAX_PRIORITY
    assert JobOptions.build(priority=-MAX_PRIORITY).priority == -MAX_PRIORITY


def test_app_job_validates_options_at_declaration(tmp_path: Path) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'c.db'}")

    def handler(ctx: object) -> None:
        return None

    with pytest.raises(ConfigurationError, match="retries must be"):
        app.job(retries=-1)(handler)
    with pytest.raises(ConfigurationError, match="timeout must be positive"):
        app.job(timeout=0)
    assert app.jobs == {}
    # Nothing was opened: declaring jobs never touches the database.
    assert not (tmp_path / "c.db").exists()


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "1kb"])
def test_conveyor_rejects_a_bad_payload_limit(value: object) -> None:
    with pytest.raises(ConfigurationError, match="max_payload_bytes must be a positive int"):
        Conveyor("sqlite:///unused.db", max_payload_bytes=value)  # type: ignore[arg-type]


# -- the default timeout ----------------------------------------------------------------------


def _handler(ctx: object) -> None:
    return None


def test_default_timeout_applies_to_jobs_declared_without_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CONVEYOR_DEFAULT_TIMEOUT", raising=False)
    app = Conveyor("sqlite:///unused.db", default_timeout="15m")
    assert app.default_timeout == 900.0
    plain = app.job(name="plain")(_handler)
    own = app.job(name="own", timeout="30s")(_handler)
    unbounded = app.job(name="unbounded", timeout=None)(_handler)
    assert (plain.options.timeout, own.options.timeout, unbounded.options.timeout) == (
        900.0, 30.0, None,
    )
    assert plain.prepare().timeout == 900.0  # the job row carries it
    assert untimed_jobs(app) == []


def test_default_timeout_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_DEFAULT_TIMEOUT", "2m")
    assert Conveyor("sqlite:///unused.db").default_timeout == 120.0
    assert Conveyor("sqlite:///unused.db", default_timeout=5).default_timeout == 5.0
    monkeypatch.setenv("CONVEYOR_DEFAULT_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="CONVEYOR_DEFAULT_TIMEOUT 'soon' is not"):
        Conveyor("sqlite:///unused.db")
    monkeypatch.delenv("CONVEYOR_DEFAULT_TIMEOUT")
    assert Conveyor("sqlite:///unused.db").default_timeout is None
    with pytest.raises(ConfigurationError, match=r"default_timeout=\.\.\.\) must be positive"):
        Conveyor("sqlite:///unused.db", default_timeout=0)


def test_the_worker_warns_once_naming_job_types_without_any_timeout(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CONVEYOR_DEFAULT_TIMEOUT", raising=False)
    app = Conveyor("sqlite:///unused.db")
    app.job(name="b.untimed")(_handler)
    app.job(name="a.untimed")(_handler)
    app.job(name="chosen", timeout=None)(_handler)  # explicit: a choice, not a warning
    app.job(name="timed", timeout=10)(_handler)
    assert untimed_jobs(app) == ["a.untimed", "b.untimed"]
    with caplog.at_level(logging.WARNING, logger="conveyor.supervisor"):
        warn_untimed(app)
    [record] = caplog.records
    assert "2 job type(s) have no timeout" in record.getMessage()
    assert "a.untimed, b.untimed;" in record.getMessage()
    assert "CONVEYOR_DEFAULT_TIMEOUT" in record.getMessage()
    caplog.clear()
    warn_untimed(Conveyor("sqlite:///unused.db"))
    assert caplog.records == []
