"""Unit: validation of queue and job names."""

from __future__ import annotations

import pytest

from conveyor import ConfigurationError
from conveyor.names import MAX_JOB_NAME_LENGTH, MAX_QUEUE_LENGTH, check_job_name, check_queue

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
