"""The Django test project's scenario, run in a process of its own (Django is configured once
per process): migrate with the management command, enqueue inside transaction.atomic() that
commits and one that rolls back, and outside any, run a burst worker with the management
command, then print each job's fate as JSON for the test to check."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from shop.tasks import send_receipt  # noqa: E402

from conveyor.contrib.django import get_app  # noqa: E402
from conveyor.errors import JobNotFoundError, JobReplacedError  # noqa: E402


class Abort(Exception):
    """Raised inside an atomic block to roll it back."""


def fate(handle: object) -> str:
    try:
        return str(handle.refresh().state)  # type: ignore[attr-defined]
    except (JobNotFoundError, JobReplacedError):
        return "missing"


call_command("conveyor_migrate")
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE orders (id integer PRIMARY KEY, total integer)")

with transaction.atomic():
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO orders (id, total) VALUES (1, 100)")
    committed = send_receipt.enqueue(order_id=1)

try:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO orders (id, total) VALUES (2, 200)")
        rolled_back = send_receipt.enqueue(order_id=2)
        raise Abort
except Abort:
    pass

outside = send_receipt.enqueue(order_id=3)
before_worker = {"committed": fate(committed), "rolled_back": fate(rolled_back)}
call_command("conveyor_worker", "--burst", "--processes", "1")

with connection.cursor() as cursor:
    cursor.execute("SELECT id FROM orders ORDER BY id")
    orders = [row[0] for row in cursor.fetchall()]
json.dump({
    "url": get_app().url,
    "before_worker": before_worker,
    "committed": committed.result(timeout=5),
    "rolled_back": fate(rolled_back),
    "outside": outside.result(timeout=5),
    "orders": orders,
}, sys.stdout)
