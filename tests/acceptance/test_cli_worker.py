"""The CLI with real workers: `worker --burst`, a live worker, and what `queues` says of it."""

from __future__ import annotations

import signal

import pytest

from conveyor.testing import eventually

from .conftest import Project

pytestmark = pytest.mark.slow


def test_burst_worker_runs_jobs_to_completion(project: Project) -> None:
    ids = [project.enqueue("shop.add", {"a": n, "b": 100}) for n in range(5)]
    email = project.enqueue("shop.send_email", {"to": "ada@example.com"})
    project.burst()
    for n, job_id in enumerate(ids):
        doc = project.job(job_id)
        assert doc["job"]["state"] == "succeeded", doc
        assert doc["job"]["result"] == n + 100
        assert [a["outcome"] for a in doc["attempts"]] == ["succeeded"]
        assert doc["attempts"][0]["worker_id"]
        assert doc["warning"] is None
    assert project.job(email)["job"]["result"] == "sent to ada@example.com"
    stats = {q["queue"]: q for q in project.ok("queues", "--json").json()["queues"]}
    assert stats["default"]["succeeded_last_hour"] == 5
    assert stats["default"]["queued"] == 0
    assert stats["emails"]["succeeded_last_hour"] == 1


def test_burst_worker_reads_only_the_queues_asked_for(project: Project) -> None:
    add = project.enqueue("shop.add", {"a": 1, "b": 2})
    email = project.enqueue("shop.send_email", {"to": "ada@example.com"})
    project.burst("shopapp:app", "--queues", "emails")
    assert project.job(email)["job"]["state"] == "succeeded"
    assert project.job(add)["job"]["state"] == "queued"


def test_jobs_show_tells_the_attempt_history(project: Project) -> None:
    job_id = project.enqueue("shop.add", {"a": 2, "b": 3})
    project.burst()
    out = project.ok("jobs", "show", str(job_id)).out
    assert "succeeded" in out
    assert "result      5" in out
    assert "attempts" in out
    # Retrying a succeeded job does nothing, and says so.
    assert f"job {job_id} is succeeded; nothing to retry" in project.ok(
        "jobs", "retry", str(job_id)).out
    assert f"job {job_id} is succeeded; nothing to cancel" in project.ok(
        "jobs", "cancel", str(job_id)).out


def test_queues_names_a_job_that_the_live_worker_does_not_know(project: Project) -> None:
    worker = project.start("worker", "shopapp:app", "--lease", "5")

    def registered() -> dict[str, object]:
        doc: dict[str, object] = project.ok("queues", "--json").json()
        assert doc["workers"], "no live worker yet"
        return doc

    eventually(registered, timeout=30, interval=0.2)
    known = project.enqueue("shop.add", {"a": 1, "b": 2})
    eventually(lambda: project.job(known)["job"]["state"] == "succeeded", timeout=30,
               interval=0.2)
    orphan = project.enqueue("billing.charge", {"order_id": 7}, app="billingapp:app")

    out = project.ok("queues").out
    assert "1 live worker process" in out
    assert "no running worker knows `billing.charge` (1 queued in queue default)" in out
    assert "shop.add" not in out
    doc = project.job(orphan)
    assert "no running worker knows `billing.charge`" in doc["warning"]

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=40) == 0
    assert project.job(orphan)["job"]["state"] == "queued"  # still waiting, nothing lost
    eventually(lambda: project.ok("queues", "--json").json()["workers"] == [], timeout=10)
