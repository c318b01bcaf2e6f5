"""Fixtures that start real worker processes, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conveyor import Conveyor
from conveyor.models import Job
from conveyor.store.postgres.pooling import LISTEN_URL_ENV, POOLER_ENV
from conveyor.testing import eventually

HERE = Path(__file__).parent


@dataclass
class Workers:
    """Starts supervised workers for ``itapp`` and cleans them up."""

    backend: str
    env: dict[str, str]
    app: Conveyor
    effects_db: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, app_spec: str = "itapp:app", **config: Any) -> subprocess.Popen[bytes]:
        """Start a supervisor (own process group) of ``app_spec`` with a WorkerConfig built
        from ``config``."""
        config.setdefault("rescue_interval", 0.5)
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "run_worker.py"), app_spec, json.dumps(config)],
            env=self.env,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def effects(self) -> list[str]:
        """Every effect key recorded so far."""
        conn = sqlite3.connect(self.effects_db)
        try:
            return [row[0] for row in conn.execute("SELECT key FROM effects ORDER BY id")]
        finally:
            conn.close()

    def job(self, job_id: int) -> Job:
        """The job as stored now."""
        job = self.app.store.get_job(job_id)
        assert job is not None
        return job

    def wait_state(self, job_id: int, *states: str, timeout: float = 20.0) -> Job:
        """Wait until the job is in one of ``states``."""
        def check() -> Job | None:
            job = self.job(job_id)
            return job if job.state in states else None

        return eventually(check, timeout=timeout)

    def pid_of(self, worker_id: str) -> int:
        """The OS pid of a live worker process."""
        for info in self.app.store.live_workers(stale_after=60):
            if info.id == worker_id:
                return info.pid
        raise AssertionError(f"worker {worker_id} is not registered")

    def corrupt_args(self, job_id: int) -> str:
        """Damage a job's stored args behind the store's back; return the expected error.

        SQLite can hold text that is not JSON at all; PostgreSQL's jsonb only valid JSON, so
        there the damage is JSON that is not an object.
        """
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.app.url.removeprefix("sqlite:///"))
            conn.execute("UPDATE conveyor_jobs SET args = '{not json' WHERE id = ?", (job_id,))
            conn.commit()
            conn.close()
            return "not valid JSON"
        with psycopg.connect(self.app.url, autocommit=True) as pg:
            pg.execute("UPDATE conveyor_jobs SET args = '[1, 2]' WHERE id = %s", (job_id,))
        return "must be a JSON object"

    def writer_active(self) -> bool:
        """True while some connection holds an open write transaction."""
        if self.backend == "sqlite":
            probe = sqlite3.connect(
                self.app.url.removeprefix("sqlite:///"), timeout=0.5, isolation_level=None
            )
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError:
                return True
            finally:
                probe.close()
        with psycopg.connect(self.app.url, autocommit=True) as pg:
            row = pg.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%%'"
            ).fetchone()
        return bool(row and row[0])

    def cleanup(self) -> None:
        """Kill every process group started, whatever state it is in."""
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGCONT)
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)


def load_itapp(tag: str, module_name: str = "itapp") -> Conveyor:
    """A fresh copy of ``itapp`` (or another app module beside it); its app reads
    CONVEYOR_URL when the module is loaded."""
    spec = importlib.util.spec_from_file_location(
        f"{module_name}_{tag}", HERE / f"{module_name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.app
    assert isinstance(app, Conveyor)
    return app


@pytest.fixture(params=["sqlite", "postgres"])
def workers(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workers]:
    """A fresh database, effects table and environment for worker processes.

    Besides the default backends, a test may ask (``indirect=True``) for
    ``postgres-via-pgbouncer`` (a transaction-pooling PgBouncer, wake-ups by polling) or
    ``postgres-via-pgbouncer+listen`` (the same, LISTEN on a direct connection).
    """
    pooled: dict[str, str] = {}
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'conveyor.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")()
        if request.param.startswith("postgres-via-pgbouncer"):
            pooled[POOLER_ENV] = "transaction"
            if request.param.endswith("+listen"):
                pooled[LISTEN_URL_ENV] = url
            url = request.getfixturevalue("pgbouncer")(url)
    effects_db = tmp_path / "effects.db"
    conn = sqlite3.connect(effects_db)
    conn.execute("CREATE TABLE effects (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    env = dict(os.environ)
    env.update(
        CONVEYOR_URL=url,
        IT_EFFECTS_DB=str(effects_db),
        PYTHONPATH=os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]),
        CONVEYOR_LOG_LEVEL=os.environ.get("IT_LOG_LEVEL", "WARNING"),
    )
    env.update(pooled)
    monkeypatch.setenv("CONVEYOR_URL", env["CONVEYOR_URL"])
    monkeypatch.setenv("IT_EFFECTS_DB", str(effects_db))
    for name, value in pooled.items():
        monkeypatch.setenv(name, value)
    app = load_itapp(tmp_path.name)
    backend = "sqlite" if request.param == "sqlite" else "postgres"
    group = Workers(backend=backend, env=env, app=app, effects_db=effects_db)
    try:
        yield group
    finally:
        group.cleanup()
        app.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each store: a SQLite file, or a PostgreSQL copy of the template."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'conveyor.db'}"
    make: Any = request.getfixturevalue("fresh_postgres_url")
    return str(make())
