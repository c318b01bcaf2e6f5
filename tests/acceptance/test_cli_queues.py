"""The CLI's queue controls and `jobs why`, as an operator drives them."""

from __future__ import annotations

import getpass

import pytest

from conveyor.testing import eventually

from .conftest import Project

pytestmark = pytest.mark.slow


def test_pause_holds_a_queue_and_resume_lets_it_run(project: Project) -> None:
    out = project.ok("queues", "pause", "emails", "--by", "alice").out
    assert "paused queue emails" in out
    assert "already paused" in project.ok("queues", "pause", "emails").out
    mail = project.enqueue("shop.send_email", {"to": "a@example.com"})
    add = project.enqueue("shop.add", {"a": 1, "b": 2})

    listing = project.ok("queues").out
    assert "emails (paused)" in listing
    assert "default (paused)" not in listing
    stats = {q["queue"]: q for q in project.ok("queues", "--json").json()["queues"]}
    assert stats["emails"]["paused"] is True and stats["default"]["paused"] is False

    project.burst()
    assert project.job(add)["job"]["state"] == "succeeded"
    assert project.job(mail)["job"]["state"] == "queued"
    why = project.ok("jobs", "why", str(mail)).out
    assert "paused: queue emails was paused by alice" in why

    assert "resumed queue emails" in project.ok("queues", "resume", "emails").out
    assert "was not paused" in project.ok("queues", "resume", "emails").out
    assert "(paused)" not in project.ok("queues").out
    project.burst()
    assert project.job(mail)["job"]["state"] == "succeeded"


def test_pause_records_the_os_user_by_default(project: Project) -> None:
    project.ok("queues", "pause", "reports")
    mail = project.enqueue("shop.send_email", {"to": "a@example.com"}, "--queue", "reports")
    reasons = project.ok("jobs", "why", str(mail), "--json").json()["reasons"]
    paused = [r for r in reasons if r["code"] == "paused"]
    assert paused and f"by {getpass.getuser()}" in paused[0]["message"]
    # An empty paused queue still shows, so nobody forgets it.
    project.ok("queues", "resume", "reports")
    project.ok("queues", "pause", "idle")
    assert "idle (paused)" in project.ok("queues").out


def test_pause_refuses_a_bad_queue_name(project: Project) -> None:
    err = project.fails("queues", "pause", "no spaces").err
    assert "queue name" in err


def test_why_names_schedule_missing_workers_and_jobs_ahead(project: Project) -> None:
    later = project.enqueue("shop.add", {"a": 1, "b": 2}, "--delay", "1h")
    out = project.ok("jobs", "why", str(later)).out
    assert "scheduled: scheduled for later: it starts in 59m" in out

    first = project.enqueue("shop.add", {"a": 1, "b": 2})
    second = project.enqueue("shop.add", {"a": 2, "b": 3})
    out = project.ok("jobs", "why", str(second)).out
    assert "no_worker: no worker is running" in out
    assert "behind: behind 1 ready job in queue default" in out
    assert "behind" not in project.ok("jobs", "why", str(first)).out

    missing = project.run("jobs", "why", "999")
    assert missing.code == 1
    assert "job 999 does not exist" in missing.err


def test_why_names_a_job_no_live_worker_knows(project: Project) -> None:
    job = project.enqueue("shop.add", {"a": 1, "b": 2})
    project.start("worker", "billingapp:app", "--lease", "5")
    eventually(lambda: project.ok("queues", "--json").json()["workers"], timeout=30)
    out = project.ok("jobs", "why", str(job)).out
    assert "unknown_name:" in out
    assert "`shop.add`" in out
    done = project.burst()
    assert done.code == 0
    out = project.ok("jobs", "why", str(job)).out
    assert "finished as succeeded" in out
