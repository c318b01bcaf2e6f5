"""The Django integration in a real Django project (tests/integration/django_project), on
SQLite and on PostgreSQL: ``manage.py``-style commands migrate and run a worker, and an enqueue
inside ``transaction.atomic()`` commits or rolls back with the block."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent / "django_project"
SOURCE_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "project.db")
    make: Callable[[], str] = request.getfixturevalue("fresh_postgres_url")
    return make()


def test_enqueue_commits_and_rolls_back_with_djangos_transaction(database: str) -> None:
    env = {
        **os.environ,
        "DJANGO_TEST_DATABASE": database,
        "PYTHONPATH": os.pathsep.join([str(PROJECT), str(SOURCE_ROOT)]),
    }
    env.pop("CONVEYOR_URL", None)
    done = subprocess.run([sys.executable, "check.py"], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    # Conveyor used Django's own database, through Django's connection inside atomic().
    assert report["url"].startswith("sqlite:///" if "/" in database[:1] else "postgresql://")
    assert report["before_worker"] == {"committed": "queued", "rolled_back": "missing"}
    assert report["committed"] == "receipt for order 1"
    assert report["rolled_back"] == "missing"
    assert report["outside"] == "receipt for order 3"
    assert report["orders"] == [1]


@pytest.mark.parametrize(
    ("conveyor", "database", "message"),
    [
        (None, "db.sqlite3", 'Conveyor needs your app in settings: CONVEYOR = {"APP": '),
        ({"APP": "shop.tasks:app", "QUEUE": "x"}, "db.sqlite3",
         "CONVEYOR has unknown keys ['QUEUE']; it takes APP, URL, SCHEMA, DATABASE"),
        ({"APP": "shop.tasks:app"}, ":memory:",
         "Conveyor cannot share the in-memory SQLite database of 'default'"),
    ],
)
def test_a_bad_setting_fails_at_start_up_saying_what_to_write(
    conveyor: dict[str, str] | None, database: str, message: str, tmp_path: Path
) -> None:
    script = (
        "import django\n"
        "from django.conf import settings\n"
        f"settings.configure(INSTALLED_APPS=['conveyor.contrib.django'], CONVEYOR={conveyor!r},"
        f" DATABASES={{'default': {{'ENGINE': 'django.db.backends.sqlite3', "
        f"'NAME': {database!r}}}}})\n"
        "django.setup()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT), str(SOURCE_ROOT)])}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: " + message in done.stderr, done.stderr
