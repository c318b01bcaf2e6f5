"""A Django project (tests/djangoproj) using Conveyor through ``conveyor.contrib.django``, on
both stores: jobs enqueued in ``transaction.atomic()`` commit and roll back with the models,
and ``manage.py conveyor_worker`` runs them with the ORM ready."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.models import JobState
from conveyor.store import open_store
from conveyor.store.protocol import JobFilter

pytest.importorskip("django")
pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1] / "djangoproj"
SOURCE_ROOT = Path(__file__).resolve().parents[2]

PLACE_ORDERS = """
from shop.orders import place_order
from shop.models import Order
kept = place_order("ada", 1999)
try:
    place_order("bob", 5, fail=True)
except RuntimeError:
    pass
print("kept", kept, "orders", Order.objects.count())
"""


def manage(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CONVEYOR_URL", "CONVEYOR_APP")}
    env["SHOP_DATABASE_URL"] = url
    env["PYTHONPATH"] = os.pathsep.join([str(SOURCE_ROOT), env.get("PYTHONPATH", "")])
    env["CONVEYOR_LOG_LEVEL"] = "WARNING"
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"manage.py {' '.join(args)}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_jobs_commit_and_roll_back_with_the_models(backend_url: str) -> None:
    manage(backend_url, "migrate", "--noinput")
    migrated = manage(backend_url, "conveyor_migrate").stdout
    assert "Conveyor schema at version" in migrated

    # The last line: the shell may print a line of its own first (auto-imports).
    placed = manage(backend_url, "shell", "-c", PLACE_ORDERS).stdout.splitlines()[-1].split()
    assert placed[0] == "kept" and placed[2:] == ["orders", "1"]  # bob's order rolled back
    store = open_store(backend_url)
    try:
        [job] = store.list_jobs(JobFilter())  # and so did bob's receipt
        assert job.name == "shop.send_receipt" and job.args == {"order_id": int(placed[1])}

        manage(backend_url, "conveyor_worker", "--burst", "--concurrency", "2")
        [done] = store.list_jobs(JobFilter())
        assert done.state is JobState.SUCCEEDED, done
        assert done.result == "receipt for ada: 1999"  # the job read the order via the ORM
    finally:
        store.close()


def test_settings_mistakes_are_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    env = {**os.environ, "SHOP_DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "mysite.settings",
           "PYTHONPATH": os.pathsep.join([str(PROJECT), str(SOURCE_ROOT)])}
    script = """
import django
from django.conf import settings
django.setup()
from conveyor.contrib.django import conveyor_app
from conveyor.errors import ConfigurationError
for bad in ({"APP": "shop.jobs:app", "QUEUES": 1}, {"APP": 7}, {"APP": "shop.jobs:app",
            "DATABASE": "other"}):
    settings.CONVEYOR = bad
    try:
        conveyor_app()
    except ConfigurationError as exc:
        print(exc)
"""
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "unknown keys ['QUEUES']" in lines[0]
    assert "must be a dict naming your app" in lines[1]
    assert "'other', which is not in DATABASES" in lines[2]
