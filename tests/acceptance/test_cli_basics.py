"""The CLI without workers: migrate, enqueue, queues, jobs, and its error messages."""

from __future__ import annotations

import json
from datetime import datetime

from conveyor.store import open_store
from conveyor.store.protocol import ClaimParams, NewJob
from conveyor.store.sqlite.connection import LATEST_VERSION

from .conftest import Project


def test_help_lists_every_command(project: Project) -> None:
    out = project.ok("--help").out
    for command in ("migrate", "queues", "jobs", "dlq", "enqueue", "worker", "demo"):
        assert command in out


def test_migrate_creates_the_database_and_prints_its_version(project: Project) -> None:
    other = project.path / "sub" / "fresh.db"
    out = project.ok("migrate", "--url", f"sqlite:///{other}").out
    latest = f"schema version {LATEST_VERSION}"
    assert latest in out
    assert other.exists()
    # Running it again is harmless.
    assert latest in project.ok("migrate", "--url", f"sqlite:///{other}").out


def test_store_commands_refuse_a_database_that_does_not_exist(project: Project) -> None:
    missing = project.path / "nope.db"
    err = project.fails("queues", "--url", f"sqlite:///{missing}").err
    assert "no Conveyor database" in err
    assert "conveyor migrate" in err
    assert not missing.exists()


def test_enqueue_prints_the_job_id(project: Project) -> None:
    out = project.ok("enqueue", "shop.add", "--app", "shopapp:app", "--args",
                     '{"a": 1, "b": 2}').out
    assert out.startswith("enqueued job 1 (shop.add, queued)")
    job = project.job(1)["job"]
    assert job["args"] == {"a": 1, "b": 2}
    assert job["state"] == "queued"


def test_enqueue_reads_the_app_from_conveyor_app(project: Project) -> None:
    out = project.ok("enqueue", "shop.add", "--args", '{"a": 1, "b": 2}', "--json",
                     env={"CONVEYOR_APP": "shopapp:app"})
    assert out.json() == {"id": 1, "name": "shop.add", "state": "queued"}


def test_enqueue_options_delay_priority_queue(project: Project) -> None:
    job_id = project.enqueue("shop.add", {"a": 1, "b": 2}, "--delay", "5m", "--priority", "7",
                             "--queue", "urgent")
    job = project.job(job_id)["job"]
    assert job["state"] == "scheduled"
    assert job["priority"] == 7
    assert job["queue"] == "urgent"
    delay = datetime.fromisoformat(job["run_at"]) - datetime.fromisoformat(job["created_at"])
    assert 290 < delay.total_seconds() <= 300


def test_enqueue_errors_are_clear_and_write_nothing(project: Project) -> None:
    app = ("--app", "shopapp:app")
    err = project.fails("enqueue", "shop.nope", *app, "--args", "{}").err
    assert "shop.nope" in err
    assert "shop.add" in err and "shop.send_email" in err  # the known names are listed

    err = project.fails("enqueue", "shop.add", *app, "--args", '{"a": 1,').err
    assert "--args is not valid JSON" in err

    err = project.fails("enqueue", "shop.add", *app, "--args", "[1, 2]").err
    assert "JSON object" in err

    err = project.fails("enqueue", "shop.add", *app, "--args", '{"a": 1}').err
    assert "'b'" in err and "nothing was enqueued" in err

    err = project.fails("enqueue", "shop.add", *app, "--args", '{"a": "x", "b": 2}').err
    assert "'a'" in err

    err = project.fails("enqueue", "shop.add", *app, "--args", '{"queue": "x"}').err
    assert "--queue" in err

    err = project.fails("enqueue", "shop.add", *app, "--delay", "soon", "--args",
                        '{"a": 1, "b": 2}').err
    assert "delay" in err

    assert project.all_jobs() == []


def test_commands_that_need_the_app_say_how_to_give_it(project: Project) -> None:
    err = project.fails("enqueue", "shop.add", "--args", "{}").err
    assert "--app myapp:app" in err and "CONVEYOR_APP" in err
    err = project.fails("worker").err
    assert "conveyor worker myapp:app" in err and "CONVEYOR_APP" in err
    err = project.fails("worker", "nosuchmodule:app").err
    assert "nosuchmodule" in err
    err = project.fails("enqueue", "shop.add", "--app", "shopapp:nothing", "--args", "{}").err
    assert "nothing" in err


def test_queues_json_counts(project: Project) -> None:
    for n in range(3):
        project.enqueue("shop.add", {"a": n, "b": 1})
    project.enqueue("shop.send_email", {"to": "a@example.com"})
    project.enqueue("shop.send_email", {"to": "b@example.com"}, "--delay", "1h")
    doc = project.ok("queues", "--json").json()
    by_queue = {q["queue"]: q for q in doc["queues"]}
    assert by_queue["default"]["queued"] == 3
    assert by_queue["default"]["scheduled"] == 0
    assert by_queue["emails"]["queued"] == 1
    assert by_queue["emails"]["scheduled"] == 1
    assert by_queue["emails"]["dead"] == 0
    assert by_queue["default"]["oldest_queued_age"] >= 0
    assert doc["workers"] == []
    unserved = {(u["queue"], u["name"]): u["ready"] for u in doc["unserved"]}
    assert unserved == {("default", "shop.add"): 3, ("emails", "shop.send_email"): 1}


def test_queues_table_names_jobs_no_worker_knows(project: Project) -> None:
    project.enqueue("shop.add", {"a": 1, "b": 2})
    project.enqueue("shop.add", {"a": 1, "b": 2})
    project.enqueue("billing.charge", {"order_id": 5}, app="billingapp:app")
    out = project.ok("queues").out
    assert "default" in out
    assert "no running worker knows `shop.add` (2 queued in queue default)" in out
    assert "no running worker knows `billing.charge` (1 queued in queue default)" in out
    assert all(len(line) <= 80 for line in out.splitlines()), out


def test_queues_with_an_app_uses_the_apps_url(project: Project) -> None:
    (project.path / "pinnedapp.py").write_text(
        "from conveyor import Conveyor\n"
        "app = Conveyor('sqlite:///pinned.db')\n"
        "@app.job(name='pinned.ping')\n"
        "def ping(ctx) -> None:\n"
        "    pass\n"
    )
    project.enqueue("pinned.ping", {}, app="pinnedapp:app")
    assert (project.path / "pinned.db").exists()
    # CONVEYOR_URL's database holds nothing; the app's own database holds the job.
    assert project.ok("queues", "--json").json()["queues"] == []
    doc = project.ok("queues", "--json", "--app", "pinnedapp:app").json()
    assert [(q["queue"], q["queued"]) for q in doc["queues"]] == [("default", 1)]
    # An explicit --url wins over the app's.
    doc = project.ok("queues", "--json", "--app", "pinnedapp:app", "--url", project.url).json()
    assert doc["queues"] == []


def test_jobs_list_filters_and_pages(project: Project) -> None:
    ids = [project.enqueue("shop.add", {"a": n, "b": 1}) for n in range(5)]
    project.enqueue("shop.send_email", {"to": "a@example.com"}, "--delay", "1h")
    doc = project.ok("jobs", "list", "--json").json()
    assert [j["id"] for j in doc["jobs"]] == [6, *reversed(ids)]

    page = project.ok("jobs", "list", "--json", "--limit", "2", "--name", "shop.add").json()
    assert [j["id"] for j in page["jobs"]] == [5, 4]
    assert page["next_before_id"] == 4
    rest = project.ok("jobs", "list", "--json", "--name", "shop.add", "--before-id", "4").json()
    assert [j["id"] for j in rest["jobs"]] == [3, 2, 1]
    assert rest["next_before_id"] is None

    scheduled = project.ok("jobs", "list", "--json", "--state", "scheduled").json()["jobs"]
    assert [j["name"] for j in scheduled] == ["shop.send_email"]
    both = project.ok("jobs", "list", "--json", "--state", "scheduled", "--state", "queued",
                      "--queue", "emails").json()["jobs"]
    assert [j["id"] for j in both] == [6]

    table = project.ok("jobs", "list").out
    assert "shop.send_email" in table and "scheduled" in table
    assert all(len(line) <= 80 for line in table.splitlines()), table
    usage = project.run("jobs", "list", "--state", "bogus")  # click's own usage error
    assert usage.code == 2 and "'bogus' is not one of" in usage.err


def test_jobs_show_has_every_field_and_warns_when_no_worker_knows_it(project: Project) -> None:
    job_id = project.enqueue("shop.add", {"a": 40, "b": 2})
    doc = project.job(job_id)
    assert doc["job"]["name"] == "shop.add"
    assert doc["job"]["max_attempts"] == 4
    assert doc["attempts"] == []
    assert "no running worker knows `shop.add`" in doc["warning"]
    out = project.ok("jobs", "show", str(job_id)).out
    assert f"job {job_id}  shop.add" in out
    assert '{"a": 40, "b": 2}' in out
    assert "no running worker knows `shop.add`" in out
    assert "no attempts yet" in out
    err = project.fails("jobs", "show", "999").err
    assert "job 999 does not exist" in err


def test_jobs_cancel_and_retry_say_what_changed(project: Project) -> None:
    job_id = project.enqueue("shop.add", {"a": 1, "b": 2}, "--delay", "1h")
    out = project.ok("jobs", "cancel", str(job_id)).out
    assert f"cancelled: job {job_id}" in out
    assert project.job(job_id)["job"]["state"] == "cancelled"

    out = project.ok("jobs", "cancel", str(job_id)).out
    assert f"job {job_id} is cancelled; nothing to cancel" in out

    out = project.ok("jobs", "retry", str(job_id)).out
    assert f"queued again: job {job_id}" in out
    job = project.job(job_id)["job"]
    assert job["state"] == "queued"
    due, created = datetime.fromisoformat(job["run_at"]), datetime.fromisoformat(job["created_at"])
    assert (due - created).total_seconds() <= 3600  # made due now, not in an hour

    result = project.run("jobs", "cancel", str(job_id), "424242")
    assert result.code == 1, result.describe()
    assert f"cancelled: job {job_id}" in result.out
    assert "job 424242 does not exist" in result.err


def test_dlq_commands_on_an_empty_queue(project: Project) -> None:
    assert "dead-letter queue is empty" in project.ok("dlq", "list").out
    assert project.ok("dlq", "list", "--json").json() == {"jobs": [], "total": 0}
    assert "nothing to replay" in project.ok("dlq", "replay", "--all", "--dry-run").out


def test_dlq_replay_and_discard_need_a_selection(project: Project) -> None:
    for command in ("replay", "discard"):
        err = project.fails("dlq", command).err
        assert "give job ids, a filter" in err and "--all" in err
    err = project.fails("dlq", "replay", "--all", "--queue", "default").err
    assert "--all" in err
    err = project.fails("dlq", "list", "--older-than", "yesterday").err
    assert "--older-than" in err


def test_discard_refuses_without_a_terminal_unless_yes(project: Project) -> None:
    err = project.fails("dlq", "discard", "--all").err
    assert "--yes" in err
    assert "discarded 0 dead jobs" in project.ok("dlq", "discard", "--all", "--yes").out


def test_json_listings_are_one_document(project: Project) -> None:
    project.enqueue("shop.add", {"a": 1, "b": 2})
    for args in (("queues",), ("jobs", "list"), ("jobs", "show", "1"), ("dlq", "list")):
        out = project.ok(*args, "--json").out
        assert isinstance(json.loads(out), dict)


def test_jobs_show_why_and_list_flag_a_stalled_job(project: Project) -> None:
    store = open_store(project.env["CONVEYOR_URL"])
    try:
        t = store.now()
        [new] = store.insert_jobs([
            NewJob(queue="default", name="shop.add", args_json='{"a": 1, "b": 2}',
                   max_attempts=1, run_at=t - 900, meta_json='{"stall_after": 300}')
        ])
        # Started ten minutes ago; its heartbeat goes on (a long lease) but no progress.
        store.claim_jobs(ClaimParams("w", ("default",), ("shop.add",), 1, 3600.0, now=t - 600))
    finally:
        store.close()
    shown = project.ok("jobs", "show", str(new.id)).out
    assert "stalled" in shown and "stall_after 5m" in shown, shown
    assert project.job(new.id)["stalled_for"] >= 600
    why = project.ok("jobs", "why", str(new.id)).out
    assert "stalled: it reported no progress for 10m" in why, why
    assert "stalled 10m" in project.ok("jobs", "list").out


def test_jobs_show_why_and_list_name_a_held_jobs_sequence(project: Project) -> None:
    store = open_store(project.env["CONVEYOR_URL"])
    try:
        first, second = store.insert_jobs([
            NewJob(queue="default", name="shop.add", args_json='{"a": 1, "b": n}',
                   max_attempts=1, meta_json='{"sequence": "acct:3"}', sequence_key="acct:3")
            for n in ("1", "2")
        ])
    finally:
        store.close()
    shown = project.ok("jobs", "show", str(second.id)).out
    assert "sequence    acct:3" in shown and "state       held" in shown, shown
    assert f"behind job {first.id}, which is queued" in shown, shown
    assert project.ok("jobs", "show", str(second.id), "--json").json()["waits_for"].startswith(
        "waiting in sequence `acct:3`"
    )
    why = project.ok("jobs", "why", str(second.id)).out
    assert why.startswith(f"sequence: waiting in sequence `acct:3` behind job {first.id}"), why
    listed = project.ok("jobs", "list", "--state", "held").out.splitlines()[2:]
    assert [line.split()[:4] for line in listed] == [[str(second.id), "shop.add", "default",
                                                      "held"]]
