"""Unit: validation of queue and job names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conveyor import ConfigurationError, Conveyor
from conveyor._jobs import check_tenant
from conveyor._names import (
    MAX_JOB_NAME_LENGTH,
    MAX_QUEUE_LENGTH,
    check_job_name,
    check_queue,
    check_schedule_name,
)
from conveyor._unique import check_unique_key
from conveyor.cli import main

VALID = ["default", "emails", "Q1", "_private", "a.b:c-d_e", "exports:v2", "x"]
INVALID_CHARACTERS = ["1queue", "-dash", ".dot", "has space", "a/b", "ü-mail", "a;b", "a\nb"]


@pytest.mark.parametrize("name", VALID)
def test_valid_names_are_returned_unchanged(name: str) -> None:
    assert check_queue(name) == name
    assert check_job_name(name) == name


def test_dotted_module_paths_are_valid_job_names() -> None:
    assert check_job_name("myapp.tasks.send_welcome") == "myapp.tasks.send_welcome"
    assert check_job_name("tests.unit.Outer.method") == "tests.unit.Outer.method"


@pytest.mark.parametrize("name", INVALID_CHARACTERS)
def test_names_with_bad_characters_are_refused(name: str) -> None:
    message = r"may hold only letters, digits, '_', '\.', ':' and '-'"
    with pytest.raises(ConfigurationError, match=message):
        check_queue(name)
    with pytest.raises(ConfigurationError, match=message):
        check_job_name(name)


@pytest.mark.parametrize("value", ["", None, 5, b"emails", ["default"]])
def test_empty_or_non_string_names_are_refused(value: object) -> None:
    with pytest.raises(ConfigurationError, match="queue name must be a non-empty string"):
        check_queue(value)
    with pytest.raises(ConfigurationError, match="job name must be a non-empty string"):
        check_job_name(value)


def test_length_limits() -> None:
    assert check_queue("q" * MAX_QUEUE_LENGTH) == "q" * MAX_QUEUE_LENGTH
    with pytest.raises(ConfigurationError, match=f"longer than {MAX_QUEUE_LENGTH} characters"):
        check_queue("q" * (MAX_QUEUE_LENGTH + 1))
    assert check_job_name("j" * MAX_JOB_NAME_LENGTH) == "j" * MAX_JOB_NAME_LENGTH
    with pytest.raises(ConfigurationError, match=f"longer than {MAX_JOB_NAME_LENGTH}"):
        check_job_name("j" * (MAX_JOB_NAME_LENGTH + 1))
    # The job name limit is longer than the queue one.
    check_job_name("q" * (MAX_QUEUE_LENGTH + 1))


CONTROL = ["default\n", "default\r\n", "de\tfault", "default\x00", "default\x7f", "\x85default"]


def test_a_name_ending_in_a_newline_is_refused() -> None:
    # A regex "$" also matches before a trailing newline; names are matched in full.
    for check in (check_queue, check_job_name, check_schedule_name):
        with pytest.raises(ConfigurationError, match="may hold only letters"):
            check("default\n")


@pytest.mark.parametrize("value", CONTROL)
def test_tenants_and_unique_keys_with_control_characters_are_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"tenant .* holds the control character"):
        check_tenant(value)
    with pytest.raises(ConfigurationError, match=r"unique_key .* holds the control character"):
        check_unique_key(value)
    assert check_tenant("acme corp") == "acme corp"
    assert check_unique_key("charge:42 ü") == "charge:42 ü"


def test_a_queue_with_a_trailing_newline_is_refused_at_declaration_and_at_enqueue(
    tmp_path: Path,
) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(ConfigurationError, match="queue name 'default\\\\n'"):

        @app.job(queue="default\n")
        def bad(ctx: Any) -> None: ...

    @app.job
    def good(ctx: Any) -> None: ...

    with pytest.raises(ConfigurationError, match="queue name"):
        good.prepare(queue="default\n")
    with pytest.raises(ConfigurationError, match="tenant"):
        good.prepare(tenant="acme\n")
    with pytest.raises(ConfigurationError, match="schedule name"):
        app.schedule("nightly\n", good, every="1h")
    app.close()


def test_the_cli_refuses_a_queue_name_with_a_trailing_newline(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    assert CliRunner().invoke(main, ["migrate", "--url", url]).exit_code == 0
    result = CliRunner().invoke(main, ["queues", "pause", "default\n", "--url", url])
    assert result.exit_code == 2, result.output
    assert "error: queue name 'default\\n'" in result.output
    result = CliRunner().invoke(main, ["checkin", "nightly\n", "--every", "1d", "--url", url])
    assert result.exit_code == 2, result.output
    assert "schedule name 'nightly\\n'" in result.output
