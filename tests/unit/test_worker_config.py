"""Worker settings: per-queue slots from ``--queues`` and their validation."""

from __future__ import annotations

import os

import pytest

from conveyor.cli.worker import parse_queues
from conveyor.errors import ConfigurationError
from conveyor.worker import WorkerConfig


def test_queues_with_and_without_slots_parse_in_order() -> None:
    assert parse_queues("emails=8, reports=2,default") == (
        ("emails", "reports", "default"),
        {"emails": 8, "reports": 2},
    )
    assert parse_queues(None) == ((), {})


@pytest.mark.parametrize("text", ["emails=0", "emails=x", "emails=", "emails=-1"])
def test_a_bad_slot_count_names_the_queue_and_the_fix(text: str) -> None:
    with pytest.raises(ConfigurationError, match="emails=4"):
        parse_queues(text)


def test_total_slots_is_the_sum_when_every_queue_is_capped() -> None:
    config = WorkerConfig(queues=("a", "b"), queue_slots={"a": 8, "b": 2})
    assert config.total_slots == 10


def test_total_slots_is_concurrency_when_some_queue_is_uncapped() -> None:
    config = WorkerConfig(queues=("a", "b"), queue_slots={"a": 2}, concurrency=6)
    assert config.total_slots == 6


def test_slots_for_a_queue_the_worker_does_not_read_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not in queues"):
        WorkerConfig(queues=("a",), queue_slots={"b": 2})


def test_zero_slots_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="1 or more slots"):
        WorkerConfig(queues=("a",), queue_slots={"a": 0})


def test_metrics_tenant_needs_a_metrics_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from conveyor.worker.metrics import METRICS_ENV, MULTIPROC_ENV, TENANT, share_with_children

    with pytest.raises(ConfigurationError, match=r"--metrics-tenant .* add --metrics-port"):
        WorkerConfig(metrics_tenant=True)
    assert WorkerConfig(metrics_tenant=True, metrics_port=9191).metrics_tenant
    # setenv (not delenv of an unset name, which records nothing to undo) so that teardown
    # removes what share_with_children writes: a leaked PROMETHEUS_MULTIPROC_DIR would send
    # every worker started later by the same test process to a folder that does not exist.
    monkeypatch.setenv(METRICS_ENV, "")
    monkeypatch.setenv(MULTIPROC_ENV, "")
    share_with_children("/tmp/nowhere", tenant=True)
    assert os.environ[METRICS_ENV] == TENANT
    share_with_children("/tmp/nowhere")
    assert os.environ[METRICS_ENV] == "1"
