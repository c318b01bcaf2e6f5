"""CLI parity with the dashboard: replay with changed args and at a rate, enqueue with a
notify URL, attempt numbers across replays, and every state change in the audit log."""

from __future__ import annotations

import getpass
import json

import pytest

from conveyor.store import open_store

from .conftest import Project

pytestmark = pytest.mark.slow


def actions(project: Project) -> list[tuple[str, str, str, dict[str, object]]]:
    store = open_store(project.url)
    try:
        rows = store.list_actions(limit=100)
    finally:
        store.close()
    return [(r.actor, r.action, r.target, json.loads(r.details_json)) for r in reversed(rows)]


def test_replay_with_set_and_rate_and_the_audit_log(project: Project) -> None:
    dead = project.enqueue("shop.always_fails", {"order_id": 7})
    project.burst_until(dead, "dead")

    bad = project.fails("dlq", "replay", str(dead), "--set", "order_id=seven", "--app",
                        "shopapp:app", code=2)
    assert "--set does not fit job" in bad.err and "order_id" in bad.err
    assert "exactly one JOB_ID" in project.fails("dlq", "replay", "--all", "--set",
                                                 "order_id=8").err
    assert "is not a rate" in project.fails("dlq", "replay", str(dead), "--rate", "fast").err
    assert project.job(dead)["job"]["state"] == "dead"  # nothing was replayed

    out = project.ok("dlq", "replay", str(dead), "--set", "order_id=8", "--app",
                     "shopapp:app").out
    assert f"replayed: job {dead}" in out
    assert project.job(dead)["job"]["args"] == {"order_id": 8}
    again = project.burst_until(dead, "dead")
    # Attempt numbers go on across the replay instead of starting at 1 again.
    assert [(a["number"], a["replayed"]) for a in again["attempts"]] == [
        (1, False), (2, False), (3, True), (4, False)
    ]
    assert "3 (replay)" in project.ok("dlq", "show", str(dead)).out

    out = project.ok("dlq", "replay", "--all", "--rate", "2/s").out
    assert "replayed 1 dead job" in out
    project.ok("queues", "pause", "emails")
    project.ok("queues", "resume", "emails")
    project.ok("jobs", "cancel", str(dead))
    project.ok("jobs", "retry", str(dead))
    project.ok("jobs", "cancel", str(dead))

    user = getpass.getuser()
    logged = actions(project)
    assert {actor for actor, *_ in logged} == {user}
    assert all(details["via"] == "cli" for *_, details in logged)
    assert [(action, target) for _, action, target, _ in logged] == [
        ("replay_with_args", f"job:{dead}"),
        ("replay", "dlq:all"),
        ("pause_queue", "queue:emails"),
        ("resume_queue", "queue:emails"),
        ("cancel", f"job:{dead}"),
        ("retry", f"job:{dead}"),
        ("cancel", f"job:{dead}"),
    ]
    assert logged[0][3]["old_args"] == {"order_id": 7}
    assert logged[0][3]["new_args"] == {"order_id": 8}
    assert logged[1][3]["per_second"] == 2.0


def test_enqueue_takes_a_notify_url_and_checks_it(project: Project) -> None:
    job_id = project.enqueue("shop.add", {"a": 1, "b": 2}, "--notify-url",
                             "https://example.com/hooks/conveyor")
    assert project.job(job_id)["job"]["meta"] == {"notify_url": "https://example.com/hooks/conveyor"}
    bad = project.fails("enqueue", "shop.add", "--app", "shopapp:app", "--args",
                        '{"a": 1, "b": 2}', "--notify-url", "ftp://example.com/x")
    assert "notify_url" in bad.err


def test_schedule_changes_are_audited(project: Project) -> None:
    project.ok("schedules", "add", "nightly", "--job", "shop.add", "--every", "1h",
               "--args", '{"a": 1, "b": 2}')
    project.ok("schedules", "pause", "nightly", "--by", "alice")
    project.ok("schedules", "resume", "nightly")
    project.ok("schedules", "remove", "nightly")
    logged = [(actor, action, target) for actor, action, target, _ in actions(project)]
    user = getpass.getuser()
    assert logged == [
        (user, "add_schedule", "schedule:nightly"),
        ("alice", "pause_schedule", "schedule:nightly"),
        (user, "resume_schedule", "schedule:nightly"),
        (user, "remove_schedule", "schedule:nightly"),
    ]
