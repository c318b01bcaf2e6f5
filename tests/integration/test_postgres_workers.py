"""PostgreSQL under load and under fire: many processes, a restarted server, killed backends."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import pytest

from conveyor.errors import StoreUnavailableError
from conveyor.models import JobState
from conveyor.store.protocol import JobFilter

from .conftest import Workers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("workers", ["postgres"], indirect=True),
]
T = TypeVar("T")


def retrying(read: Callable[[], T], timeout: float = 30.0) -> T:
    """Run a read, retrying while the server is away (the test's own pool sees it too)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read()
        except StoreUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def succeeded(workers: Workers) -> int:
    return retrying(
        lambda: workers.app.store.count_jobs(JobFilter(states=(JobState.SUCCEEDED,)))
    )


def wait_all_succeeded(workers: Workers, total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while succeeded(workers) < total:
        assert time.monotonic() < deadline, f"only {succeeded(workers)} of {total} succeeded"
        time.sleep(0.2)


def assert_each_ran_once(workers: Workers, keys: set[str]) -> None:
    effects = workers.effects()
    assert len(effects) == len(keys)  # the UNIQUE key column refuses a second run
    assert set(effects) == keys
    stats = retrying(workers.app.store.queue_stats)
    assert sum(s.failed_last_hour for s in stats) == 0  # no attempt failed, none was lost


def test_four_processes_work_ten_thousand_jobs_none_lost_none_twice(workers: Workers) -> None:
    keys = {f"k{i}" for i in range(10_000)}
    half = sorted(keys)
    workers.app.get("effect").enqueue_many([{"key": k} for k in half[:5000]])
    workers.app.get("effect_async").enqueue_many([{"key": k} for k in half[5000:]])
    proc = workers.start(processes=4, concurrency=16, burst=True)
    assert proc.wait(timeout=240) == 0
    assert succeeded(workers) == 10_000
    assert workers.app.store.count_jobs(JobFilter()) == 10_000
    assert_each_ran_once(workers, keys)
    done = workers.app.store.list_jobs(JobFilter(limit=10_000))
    assert {job.attempt for job in done} == {1}
    assert len({job.worker_id for job in done}) == 4, "all four processes should have worked"


def _terminate_backends(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def test_terminated_connections_lose_nothing(workers: Workers) -> None:
    keys = {f"t{i}" for i in range(3000)}
    workers.app.get("effect").enqueue_many([{"key": k} for k in sorted(keys)])
    workers.start(processes=2, concurrency=8)
    killed = 0
    for _ in range(3):
        retrying(lambda: workers.app.store.count_jobs(JobFilter()))
        time.sleep(0.7)
        assert succeeded(workers) < len(keys), "the connections must be killed mid-run"
        killed += _terminate_backends(workers.app.url)
    assert killed > 0
    wait_all_succeeded(workers, len(keys), timeout=120)
    assert_each_ran_once(workers, keys)
    # Workers reconnected, LISTEN included: a new job is picked up promptly.
    handle = workers.app.enqueue("effect", key="after")
    workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=15)


def _local_cluster() -> list[str] | None:
    if os.environ.get("CONVEYOR_TEST_POSTGRES_URL") or not shutil.which("pg_ctlcluster"):
        return None
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        return None
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]


@pytest.mark.exclusive
def test_restarted_server_loses_nothing(workers: Workers) -> None:
    cluster = _local_cluster()
    if cluster is None:
        pytest.skip("needs the local cluster (pg_ctlcluster), not CONVEYOR_TEST_POSTGRES_URL")
    keys = {f"r{i}" for i in range(3000)}
    workers.app.get("effect").enqueue_many([{"key": k} for k in sorted(keys)])
    workers.start(processes=2, concurrency=8)
    time.sleep(1.0)
    assert succeeded(workers) < len(keys), "the restart must land mid-run"
    restart = threading.Thread(
        target=subprocess.run, args=([*cluster, "restart"],), kwargs={"check": True}
    )
    restart.start()
    restart.join(timeout=60)
    wait_all_succeeded(workers, len(keys), timeout=120)
    assert_each_ran_once(workers, keys)
    handle = workers.app.enqueue("effect", key="after-restart")
    workers.wait_state(handle.id, JobState.SUCCEEDED, timeout=15)


@pytest.mark.exclusive
def test_restarted_server_mid_pipeline_run_loses_nothing(workers: Workers, tmp_path: Any) -> None:
    """A pipeline run (fetch -> 1,500 embed items -> index) with the server restarted while
    its items run: the run succeeds with every item's output, each stage's jobs exactly as
    many as it should have (the fan-in fired once)."""
    from .conftest import load_itapp

    cluster = _local_cluster()
    if cluster is None:
        pytest.skip("needs the local cluster (pg_ctlcluster), not CONVEYOR_TEST_POSTGRES_URL")
    app = load_itapp(f"{tmp_path.name}_restart", "pipeapp")
    try:
        chunks = [f"c{i}" for i in range(1500)]
        run = app.pipelines["ingest_skip"].start(doc_id=3, chunks=chunks)
        workers.start("pipeapp:app", queues=["pipe"], processes=2, concurrency=8,
                      poll_interval=0.2)
        item_jobs = JobFilter(name="ingest_skip.embed", states=(JobState.SUCCEEDED,))
        deadline = time.monotonic() + 60
        while retrying(lambda: app.store.count_jobs(item_jobs)) < 100:
            assert time.monotonic() < deadline, "the items never started"
            time.sleep(0.1)
        assert retrying(lambda: app.store.count_jobs(item_jobs)) < len(chunks), \
            "the restart must land mid-run"
        subprocess.run([*cluster, "restart"], check=True, timeout=60)
        result = retrying(lambda: run.result(timeout=180), timeout=200)
        assert (result.rows, result.failed) == (len(chunks), [])
        status = retrying(run.status)
        assert status.stage("embed").items_failed == 0
        assert retrying(lambda: app.store.count_jobs(JobFilter(name="ingest_skip.index"))) == 1
        assert retrying(
            lambda: app.store.count_jobs(JobFilter(name="ingest_skip.embed"))
        ) == len(chunks) + 1  # the items and the expander, none twice
    finally:
        app.close()


@pytest.mark.exclusive
def test_readyz_and_metrics_while_the_server_is_down(workers: Workers) -> None:
    """``/readyz`` of ``--health-port`` turns 503 while PostgreSQL is stopped and 200 once it
    is back; the dashboard's ``/metrics`` meanwhile answers the last values with
    ``conveyor_store_up 0``, never a 500."""
    import httpx
    import uvicorn

    from conveyor.testing import eventually
    from conveyor.web import create_app

    from .test_health import free_port, probe

    cluster = _local_cluster()
    if cluster is None:
        pytest.skip("needs the local cluster (pg_ctlcluster), not CONVEYOR_TEST_POSTGRES_URL")
    token = "restart-read-token-0123456789"
    workers.app.get("effect").enqueue(key="before")
    port = free_port()
    workers.start(processes=1, health_port=port, health_host="127.0.0.1")

    def readyz(expected: int) -> None:
        code, body = probe(port, "/readyz")
        assert code == expected, body

    eventually(lambda: readyz(200) or True, timeout=30, interval=0.2)
    dashboard_port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(workers.app, tokens={token: "read"}), host="127.0.0.1",
        port=dashboard_port, log_level="warning",
    ))
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    eventually(lambda: server.started, timeout=30)
    client = httpx.Client(base_url=f"http://127.0.0.1:{dashboard_port}", timeout=15)
    headers = {"Authorization": f"Bearer {token}"}

    def scrape(up: int) -> str:
        answer = client.get("/metrics", headers=headers)
        assert answer.status_code == 200, answer.text
        assert f"conveyor_store_up {up}" in answer.text, answer.text
        return answer.text

    before = scrape(1)
    assert "conveyor_queue_jobs{" in before
    subprocess.run([*cluster, "stop"], check=True, timeout=60)
    try:
        eventually(lambda: readyz(503) or True, timeout=20, interval=0.2)
        during = eventually(lambda: scrape(0), timeout=20, interval=0.2)
        gauges = [line for line in before.splitlines() if line.startswith("conveyor_queue_jobs{")]
        assert gauges and all(line in during.splitlines() for line in gauges)
    finally:
        subprocess.run([*cluster, "start"], check=True, timeout=60)
    eventually(lambda: readyz(200) or True, timeout=60, interval=0.2)
    eventually(lambda: scrape(1), timeout=60, interval=0.5)
    client.close()
    server.should_exit = True
    serving.join(timeout=10)
