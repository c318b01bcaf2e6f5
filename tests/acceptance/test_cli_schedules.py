"""`conveyor schedules`: list, show, pause, resume, trigger, add and remove, as an operator
drives them against a real worker that fires the schedules."""

from __future__ import annotations

import getpass
import os
import signal
import subprocess
from typing import Any

import pytest

from conveyor.testing import eventually

from .conftest import Project

pytestmark = pytest.mark.slow

CLOCK_APP = '''
from conveyor import Conveyor

app = Conveyor()
app.configure_monitor(interval="0.3s")


@app.every("1s", schedule_name="tick")
def tick(ctx) -> int:
    return 1


@app.cron("0 3 * * *", tz="Europe/Berlin", schedule_name="nightly", args={"days": 7})
def nightly(ctx, days: int) -> int:
    return days


@app.job(name="clock.echo")
def echo(ctx, word: str) -> str:
    return word
'''


@pytest.fixture
def clock(project: Project) -> Project:
    """The project with ``clockapp.py``: two code schedules and a plain job."""
    (project.path / "clockapp.py").write_text(CLOCK_APP)
    return project


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM a background command, wait for it, and return its stderr."""
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return err


def show(project: Project, name: str, *extra: str) -> dict[str, Any]:
    """``schedules show NAME --json``."""
    found: dict[str, Any] = project.ok("schedules", "show", name, "--json", *extra).json()
    return found


def test_a_worker_fires_code_and_added_schedules_and_the_cli_shows_them(clock: Project) -> None:
    assert "no schedules yet" in clock.ok("schedules").out
    added = clock.ok("schedules", "add", "echo-often", "--job", "clock.echo", "--every", "1s",
                     "--args", '{"word": "hi"}', "--app", "clockapp:app").out
    assert "added schedule echo-often (every 1s, job clock.echo)" in added
    worker = clock.start("worker", "clockapp:app", "--lease", "5")

    def judged_ok(name: str) -> dict[str, Any]:
        doc = show(clock, name)
        assert any(e["verdict"] == "ok" for e in doc["ledger"]), doc["ledger"]
        return doc

    tick = eventually(lambda: judged_ok("tick"), timeout=60, interval=0.3)
    echo = eventually(lambda: judged_ok("echo-often"), timeout=60, interval=0.3)
    stop(worker)

    assert tick["schedule"]["source"] == "code"
    assert tick["schedule"]["description"] == "every 1s"
    assert [e["status"] for e in tick["expected"]] == ["expected"] * 3
    first_ok = next(e for e in tick["ledger"] if e["verdict"] == "ok")
    assert first_ok["status"] == "enqueued" and first_ok["job_state"] == "succeeded"
    assert first_ok["label"].endswith(" UTC")
    assert tick["counts"]["status"]["enqueued"] >= 1
    assert echo["schedule"]["source"] == "store"
    job = clock.job(next(e for e in echo["ledger"] if e["verdict"] == "ok")["job_id"])
    assert job["job"]["result"] == "hi"

    listing = clock.ok("schedules", "--json").json()["schedules"]
    by_name = {s["name"]: s for s in listing}
    assert set(by_name) == {"echo-often", "nightly", "tick"}
    nightly = by_name["nightly"]
    assert nightly["description"] == "cron 0 3 * * * Europe/Berlin"
    assert nightly["job_name"] == "clockapp.nightly" and nightly["args"] == {"days": 7}
    assert nightly["next_label"].endswith(" 03:00 Europe/Berlin")
    assert nightly["last"] is None
    assert by_name["tick"]["last"]["status"] == "enqueued"

    table = clock.ok("schedules").out
    for text in ("tick", "every 1s", "nightly", "Europe/Berlin", "03:00", "echo-often",
                 "store", "code", "enqueued"):
        assert text in table, table

    page = clock.ok("schedules", "show", "tick", "--limit", "3").out
    assert "timing:    every 1s" in page
    assert page.count("expected") == 3
    assert " shown: " in page and "enqueued" in page and "verdicts: " in page
    nightly_page = clock.ok("schedules", "show", "nightly").out
    assert "cron 0 3 * * * Europe/Berlin" in nightly_page
    assert "no slot has come due yet" in nightly_page

    refused = clock.fails("schedules", "remove", "tick").err
    assert "declared in code; delete it from the code" in refused
    assert "no schedule named 'nope' (known: echo-often, nightly, tick)" in clock.fails(
        "schedules", "show", "nope").err


def test_pause_and_resume_record_who(clock: Project) -> None:
    clock.ok("schedules", "add", "report", "--job", "clock.echo", "--cron", "30 6 * * 1-5",
             "--tz", "America/New_York", "--args", '{"word": "x"}')
    out = clock.ok("schedules", "pause", "report", "--by", "alice").out
    assert "paused schedule report" in out
    assert "already paused by alice" in clock.ok("schedules", "pause", "report").out
    doc = clock.ok("schedules", "--json").json()["schedules"][0]
    assert doc["paused"] is True and doc["paused_by"] == "alice" and doc["next_slot"] is None
    assert "paused by alice" in clock.ok("schedules").out
    assert show(clock, "report")["expected"] == []

    assert "resumed schedule report" in clock.ok("schedules", "resume", "report").out
    assert "was not paused" in clock.ok("schedules", "resume", "report").out
    doc = clock.ok("schedules", "--json").json()["schedules"][0]
    assert doc["paused"] is False and doc["next_label"].endswith(" 06:30 America/New_York")

    clock.ok("schedules", "pause", "report")
    assert f"paused by {getpass.getuser()}" in clock.ok("schedules").out
    assert "no schedule named 'other'" in clock.fails("schedules", "pause", "other").err


def test_trigger_enqueues_now_and_is_recorded_as_manual(clock: Project) -> None:
    clock.ok("schedules", "add", "hello", "--job", "clock.echo", "--every", "1h",
             "--args", '{"word": "now"}')
    needs_app = clock.fails("schedules", "trigger", "hello").err
    assert "needs your app" in needs_app

    out = clock.ok("schedules", "trigger", "hello", "--by", "carol", "--app", "clockapp:app").out
    assert out.startswith("triggered schedule hello: enqueued job ")
    job_id = int(out.split()[-1])
    job = clock.job(job_id)["job"]
    assert job["name"] == "clock.echo" and job["state"] == "queued"

    entry = show(clock, "hello")["ledger"][0]
    assert entry["manual"] is True and entry["by"] == "carol" and entry["job_id"] == job_id
    assert "triggered by carol" in clock.ok("schedules", "show", "hello").out
    assert "which this app does not declare" in clock.fails(
        "schedules", "trigger", "hello", "--app", "billingapp:app").err


def test_add_checks_its_options_and_remove_deletes_run_time_schedules(clock: Project) -> None:
    app = ("--app", "clockapp:app")
    cases = [
        (["--job", "clock.echo", "--every", "5m", "--args", '{"wrod": "x"}', *app], "word"),
        (["--job", "clock.nope", "--every", "5m", *app], "no job named 'clock.nope'"),
        (["--job", "clock.echo", "--cron", "0 25 * * *"], "hour"),
        (["--job", "clock.echo", "--cron", "0 3 * * *", "--tz", "Mars/Olympus"], "Mars/Olympus"),
        (["--job", "clock.echo", "--every", "5m", "--tz", "UTC"], "--tz is the zone of --cron"),
        (["--job", "clock.echo", "--every", "5m", "--cron", "* * * * *"], "not both"),
        (["--job", "clock.echo"], "give a timing"),
        (["--job", "clock.echo", "--every", "soon"], "not a duration"),
        (["--job", "clock.echo", "--every", "5m", "--args", "[1]"], "JSON object"),
        (["--job", "clock.echo", "--every", "5m", "--args", '{"queue": "x"}'], "--queue"),
    ]
    for options, message in cases:
        err = clock.fails("schedules", "add", "bad", *options).err
        assert message in err, err
    assert clock.ok("schedules", "--json").json()["schedules"] == []

    out = clock.ok("schedules", "add", "cleanup", "--job", "clock.echo", "--every", "15m",
                   "--args", '{"word": "x"}', "--queue", "maintenance", "--priority", "3",
                   "--grace", "5m", "--catch-up", "none", "--overlap", "queue", *app).out
    assert "added schedule cleanup (every 15m, job clock.echo); next slot " in out
    assert "not checked" not in out
    unchecked = clock.ok("schedules", "add", "later", "--job", "other.job", "--every", "1d").out
    assert "not checked; pass --app" in unchecked
    taken = clock.fails("schedules", "add", "cleanup", "--job", "clock.echo", "--every", "1m").err
    assert "a schedule named 'cleanup' exists already" in taken
    assert "declared in the app's code" in clock.fails(
        "schedules", "add", "tick", "--job", "clock.echo", "--every", "1m",
        "--args", '{"word": "x"}', *app).err

    doc = show(clock, "cleanup")["schedule"]
    assert (doc["source"], doc["queue"], doc["priority"], doc["grace"]) == (
        "store", "maintenance", 3, 300.0)
    assert (doc["catch_up"], doc["overlap"], doc["args"]) == ("none", "queue", {"word": "x"})

    assert "removed schedule cleanup" in clock.ok("schedules", "remove", "cleanup").out
    assert "no schedule named 'cleanup' (known: later)" in clock.fails(
        "schedules", "remove", "cleanup").err
