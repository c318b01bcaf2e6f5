"""The dashboard's unauthenticated ``/healthz``: up or down, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conveyor import Conveyor
from conveyor.monitor.scheduler_watch import NOT_SEEN_FOR
from conveyor.monitor.service import Monitor
from conveyor.schedules.definition import ScheduleDef
from conveyor.schedules.scheduler import Scheduler
from conveyor.store.watch_types import ScheduleRow
from conveyor.web.metrics import schedule_lateness

from .conftest import Served


def test_healthz_needs_no_token_and_says_only_up(served: Served) -> None:
    answer = served.anonymous.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "up"}
    assert answer.headers["cache-control"].startswith("no-store")
    # Still no way in anywhere else without a token.
    assert served.anonymous.get("/api/health").status_code == 401


def test_healthz_is_down_when_the_store_does_not_answer(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    served = serve(Conveyor(f"sqlite:///{tmp_path / 'conveyor.db'}"))
    # Point the app at a PostgreSQL that is not there (port 1 on the loopback refuses).
    served.app.close()
    served.app.url = "postgresql://postgres@127.0.0.1:1/nothing"
    answer = served.anonymous.get("/healthz")
    assert (answer.status_code, answer.json()) == (503, {"status": "down"})


def test_metrics_need_a_token_and_a_read_token_is_enough(served: Served) -> None:
    served.app.enqueue("echo", text="x")
    served.app.enqueue("add", x=1, y=2)
    denied = served.anonymous.get("/metrics")
    assert denied.status_code == 401 and denied.json()["error"] == "unauthenticated"
    answer = served.reader.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in answer.text.splitlines() if line and not line.startswith("#")
    }
    assert values['conveyor_queue_jobs{queue="io",state="queued"}'] == 1
    assert values['conveyor_queue_jobs{queue="default",state="queued"}'] == 1
    assert values['conveyor_queue_jobs{queue="default",state="dead"}'] == 0
    assert values["conveyor_workers_live"] == 0
    assert values["conveyor_store_up"] == 1
    # Ready jobs with no run time measured yet: one slot each, as scale-hint says.
    assert values['conveyor_queue_desired_slots{queue="io"}'] == 1
    assert values['conveyor_queue_desired_slots{queue="default"}'] == 1


def test_metrics_keep_the_last_values_while_the_store_is_down(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'conveyor.db'}")

    @app.job(queue="q")
    def job(ctx: object) -> None:
        pass

    served = serve(app)
    job.enqueue()
    first = served.reader.get("/metrics").text
    assert 'conveyor_queue_jobs{queue="q",state="queued"} 1' in first
    served.app.close()
    served.app.url = "postgresql://postgres@127.0.0.1:1/nothing"
    answer = served.reader.get("/metrics")
    assert answer.status_code == 200
    assert 'conveyor_queue_jobs{queue="q",state="queued"} 1' in answer.text
    assert "conveyor_store_up 0" in answer.text


def test_metrics_give_firing_incidents_and_schedule_lateness(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'conveyor.db'}")

    @app.cron("0 3 * * *", tz="Europe/Berlin", name="nightly")
    def nightly(ctx: object) -> None:
        pass

    app.configure_monitor(rules=[], reminder=None)
    served = serve(app)
    Scheduler(app).sync()
    monitor = Monitor(app)
    t = app.store.now()
    monitor.tick(now=t)
    monitor.tick(now=t + NOT_SEEN_FOR)  # schedules active, no scheduler: no_scheduler fires
    text = served.reader.get("/metrics").text
    assert 'conveyor_incidents_firing{rule="no_scheduler"} 1' in text
    # Synced just now: no slot of it was due yet, so it is not late.
    assert 'conveyor_schedule_lateness_seconds{schedule="nightly"} 0' in text


def test_schedule_lateness_counts_from_the_newest_unfired_slot() -> None:
    hourly = ScheduleDef.from_row(ScheduleRow("hourly", "job", "every:3600"))
    rows = [
        ScheduleRow("hourly", "job", "every:3600", created_at=0.0, last_slot=3600.0),
        ScheduleRow("behind", "job", "every:3600", created_at=0.0, last_slot=7200.0),
        ScheduleRow("never", "job", "every:3600", created_at=100.0),
        ScheduleRow("young", "job", "every:3600", created_at=7300.0),
        ScheduleRow("paused", "job", "every:3600", created_at=0.0, paused=True),
    ]
    now = 7200.0 + 90.0
    assert schedule_lateness(rows, {"hourly": hourly}, now) == [
        ("hourly", 90.0),  # 7200 is due and unfired
        ("behind", 0.0),  # fired
        ("never", 90.0),
        ("young", 0.0),  # created after the due slot: nothing was expected yet
    ]
