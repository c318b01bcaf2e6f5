"""The dead-letter queue from the shell: a failing job dies, is read, replayed and discarded."""

from __future__ import annotations

import pytest

from .conftest import Project

pytestmark = pytest.mark.slow


def test_failing_job_lands_in_the_dlq_and_can_be_replayed_and_discarded(
    project: Project,
) -> None:
    ok = project.enqueue("shop.add", {"a": 1, "b": 1})
    dead_id = project.enqueue("shop.always_fails", {"order_id": 7})
    doc = project.burst_until(dead_id, "dead")
    assert doc["job"]["error_type"] == "ValueError"
    assert [a["outcome"] for a in doc["attempts"]] == ["failed", "dead"]
    assert all("Traceback" in (a["traceback"] or "") for a in doc["attempts"])

    listed = project.ok("dlq", "list", "--json").json()
    assert listed["total"] == 1
    [entry] = listed["jobs"]
    assert entry["id"] == dead_id
    assert entry["name"] == "shop.always_fails"
    assert entry["error_type"] == "ValueError"
    assert entry["error_message"] == "order 7 has no customer"

    table = project.ok("dlq", "list").out
    assert "shop.always_fails" in table and "ValueError: order 7" in table
    assert all(len(line) <= 80 for line in table.splitlines()), table

    for flags, expected in ((("--error-type", "ValueError"), 1), (("--error-type", "KeyError"), 0),
                            (("--name", "shop.always_fails"), 1), (("--queue", "emails"), 0),
                            (("--newer-than", "1h"), 1), (("--older-than", "1h"), 0)):
        assert project.ok("dlq", "list", "--json", *flags).json()["total"] == expected, flags

    shown = project.ok("dlq", "show", str(dead_id)).out
    assert "Traceback (most recent call last)" in shown
    assert 'raise ValueError(f"order {order_id} has no customer")' in shown
    assert "ValueError: order 7 has no customer" in shown
    assert f"conveyor dlq replay {dead_id}" in shown
    assert "is succeeded, not dead" in project.ok("dlq", "show", str(ok)).out

    dry = project.ok("dlq", "replay", str(dead_id), "--dry-run").out
    assert f"would replay 1 dead job: {dead_id}" in dry
    assert project.job(dead_id)["job"]["state"] == "dead"

    out = project.ok("dlq", "replay", str(dead_id), str(ok)).out
    assert f"replayed: job {dead_id}" in out
    assert f"job {ok} is succeeded; not dead, nothing to replay" in out
    replayed = project.job(dead_id)
    assert replayed["job"]["state"] == "queued"
    assert replayed["job"]["attempt"] == 0
    assert len(replayed["attempts"]) == 2  # the history is kept
    assert project.ok("dlq", "list", "--json").json()["total"] == 0

    again = project.burst_until(dead_id, "dead")
    assert [a["outcome"] for a in again["attempts"]] == ["failed", "dead", "failed", "dead"]

    assert "would discard 1 dead job" in project.ok("dlq", "discard", "--all", "--dry-run").out
    assert "--yes" in project.fails("dlq", "discard", str(dead_id)).err
    assert "discarded 1 dead job" in project.ok("dlq", "discard", str(dead_id), "--yes").out
    assert "does not exist" in project.fails("jobs", "show", str(dead_id)).err
    assert project.job(ok)["job"]["state"] == "succeeded"  # discard touches dead jobs only


def test_replay_by_filter_and_all(project: Project) -> None:
    ids = [project.enqueue("shop.always_fails", {"order_id": n}) for n in range(3)]
    for job_id in ids:
        project.burst_until(job_id, "dead")
    out = project.ok("dlq", "replay", "--name", "shop.add").out
    assert "replayed 0 dead jobs" in out
    out = project.ok("dlq", "replay", "--error-type", "ValueError", "--dry-run").out
    assert "would replay 3 dead jobs" in out
    out = project.ok("dlq", "replay", "--all").out
    assert "replayed 3 dead jobs" in out
    states = {j["id"]: j["state"] for j in project.all_jobs()}
    assert states == dict.fromkeys(ids, "queued")
