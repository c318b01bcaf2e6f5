"""The usage page and ``GET /api/usage``: each group's attempts, time and reported units over
a window; a bad ``by`` or ``since`` is a 400 that names it."""

from __future__ import annotations

import pytest

from conveyor.store.contract.usage import UsageRow

from .conftest import Served
from .test_api import assert_error


def _spend(served: Served, tenant: str | None, ago: float, **units: float) -> None:
    store = served.app.store
    job_id = served.app.enqueue("add", x=1, y=2, tenant=tenant).id
    store.record_usage([UsageRow(job_id=job_id, attempt=1, name="add", queue="default",
                                 tenant=tenant, finished_at=store.now() - ago, wall=2.0,
                                 cpu=1.5, memory_mb=120.0, units=units)])


def test_the_api_sums_each_group_over_the_window(served: Served) -> None:
    _spend(served, "acme", 60, tokens=10, cost=0.5)
    _spend(served, "acme", 120, tokens=5)
    _spend(served, None, 60, cost=1)
    _spend(served, "acme", 3 * 86400, cost=100)  # outside the default day
    doc = served.reader.get("/api/usage", params={"by": "tenant"}).json()
    assert doc["by"] == "tenant" and doc["until"] - doc["since"] == pytest.approx(86400)
    assert [(g["key"], g["attempts"], g["units"]) for g in doc["groups"]] == [
        ("acme", 2, {"cost": 0.5, "tokens": 15.0}), (None, 1, {"cost": 1.0})]
    (by_name,) = served.reader.get("/api/usage", params={"since": "7d"}).json()["groups"]
    assert (by_name["key"], by_name["jobs"], by_name["cpu"], by_name["memory_mb"]) == (
        "add", 4, 6.0, 120.0)
    assert by_name["units"]["cost"] == 101.5
    bad = assert_error(served.reader.get("/api/usage", params={"by": "worker"}), 400,
                       "invalid_parameter")
    assert bad["parameter"] == "by" and "name, queue, tenant" in bad["message"]
    bad = assert_error(served.reader.get("/api/usage", params={"since": "soon"}), 400,
                       "invalid_parameter")
    assert bad["parameter"] == "since"


def test_the_usage_page_shows_a_table_per_group(served: Served) -> None:
    client = served.browser()
    assert "No attempts ended in this window." in client.get("/usage").text
    _spend(served, "acme<b>", 60, tokens=1234, cost=0.25)
    page = client.get("/usage", params={"by": "tenant", "since": "1h"})
    assert page.status_code == 200, page.text
    assert "<h1>Usage</h1>" in page.text and "acme&lt;b&gt;" in page.text
    assert "<th scope=\"col\">tokens</th>" in page.text and "1,234" in page.text
    assert "0.25" in page.text and "120 MiB" in page.text
    assert client.get("/usage", params={"by": "worker"}).status_code == 400
