"""Fixtures that start real worker processes against a SQLite file in tmp_path."""

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

import pytest

from conveyor import Conveyor
from conveyor.models import Job
from conveyor.testing import eventually

HERE = Path(__file__).parent


@dataclass
class Workers:
    """Starts supervised workers for ``itapp`` and cleans them up."""

    env: dict[str, str]
    app: Conveyor
    effects_db: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, **config: Any) -> subprocess.Popen[bytes]:
        """Start a supervisor (own process group) with a WorkerConfig built from ``config``."""
        config.setdefault("rescue_interval", 0.5)
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "run_worker.py"), "itapp:app", json.dumps(config)],
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


def load_itapp(tag: str) -> Conveyor:
    """A fresh copy of ``itapp`` (its app reads CONVEYOR_URL when the module is loaded)."""
    spec = importlib.util.spec_from_file_location(f"itapp_{tag}", HERE / "itapp.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.app
    assert isinstance(app, Conveyor)
    return app


@pytest.fixture
def workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workers]:
    """A fresh database, effects table and environment for worker processes."""
    db = tmp_path / "conveyor.db"
    effects_db = tmp_path / "effects.db"
    conn = sqlite3.connect(effects_db)
    conn.execute("CREATE TABLE effects (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    env = dict(os.environ)
    env.update(
        CONVEYOR_URL=f"sqlite:///{db}",
        IT_EFFECTS_DB=str(effects_db),
        PYTHONPATH=os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]),
        CONVEYOR_LOG_LEVEL=os.environ.get("IT_LOG_LEVEL", "WARNING"),
    )
    monkeypatch.setenv("CONVEYOR_URL", env["CONVEYOR_URL"])
    monkeypatch.setenv("IT_EFFECTS_DB", str(effects_db))
    app = load_itapp(tmp_path.name)
    group = Workers(env=env, app=app, effects_db=effects_db)
    try:
        yield group
    finally:
        group.cleanup()
        app.close()
