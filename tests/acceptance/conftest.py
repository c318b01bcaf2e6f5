"""Run ``python -m conveyor`` as a user would: in a project folder, with CONVEYOR_URL set.

Each test gets a fresh folder (``tmp_path``) holding a small app module, ``shopapp.py``, and
a SQLite database; the folder is the working directory and on PYTHONPATH of every command.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conveyor.cli import main as conveyor_main
from conveyor.store import open_store
from conveyor.testing import eventually

SOURCE_ROOT = Path(__file__).resolve().parents[2]
UNSET_VARIABLES = ("CONVEYOR_APP", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE")
"""Variables of the test run's own environment that the project's commands do not see."""

SHOP_APP = '''
from conveyor import Backoff, Conveyor

app = Conveyor()


@app.job(name="shop.add")
def add(ctx, a: int, b: int) -> int:
    return a + b


@app.job(name="shop.send_email", queue="emails")
def send_email(ctx, to: str) -> str:
    return f"sent to {to}"


@app.job(name="shop.always_fails", retries=1, backoff=Backoff(base=0.05, cap=0.1))
def always_fails(ctx, order_id: int) -> None:
    raise ValueError(f"order {order_id} has no customer")
'''

BILLING_APP = '''
from conveyor import Conveyor

app = Conveyor()


@app.job(name="billing.charge", queue="default")
def charge(ctx, order_id: int) -> None:
    pass
'''


@dataclass
class Result:
    """A finished command: exit status and output."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as one JSON document."""
        assert self.code == 0, self.describe()
        return json.loads(self.out)

    def describe(self) -> str:
        """Everything about the run, for assertion messages."""
        command = " ".join(self.args)
        return f"conveyor {command} -> {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"


@dataclass
class Project:
    """A user's project folder, and the ``conveyor`` command run inside it."""

    path: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The store URL every command uses (from CONVEYOR_URL)."""
        return self.env["CONVEYOR_URL"]

    def run(self, *args: str, timeout: float = 60, stdin: str | None = None,
            env: dict[str, str] | None = None) -> Result:
        """Run ``python -m conveyor ARGS`` and wait for it."""
        done = subprocess.run(
            [sys.executable, "-m", "conveyor", *args],
            cwd=self.path,
            env={**self.env, **(env or {})},
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(args, done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, **kwargs: Any) -> Result:
        """Run a command that must succeed."""
        result = self.run(*args, **kwargs)
        assert result.code == 0, result.describe()
        assert "Traceback" not in result.err, result.describe()
        return result

    def fails(self, *args: str, code: int = 2, **kwargs: Any) -> Result:
        """Run a command that must fail with ``code`` and a one-line ``error:`` message."""
        result = self.run(*args, **kwargs)
        assert result.code == code, result.describe()
        assert "Traceback" not in result.err, result.describe()
        if code == 2:
            assert result.err.startswith("error: "), result.describe()
        return result

    def enqueue(self, name: str, args: dict[str, Any], *options: str,
                app: str = "shopapp:app") -> int:
        """Enqueue through the CLI; return the job id."""
        out = self.ok("enqueue", name, "--app", app, "--args", json.dumps(args), "--json",
                      *options)
        return int(out.json()["id"])

    def read(self, *args: str) -> Result:
        """Run a read-only command in this process, for a test's checks of the state.

        The tests' own commands run as a user runs them, a process each (:meth:`run`); a
        check that only reads (``jobs show``, ``jobs list``) runs the same command in this
        process, which spares the suite an interpreter start-up per check: the acceptance
        tests ran over 450 commands, a third of a second of CPU apiece.
        """
        done = CliRunner().invoke(
            conveyor_main, list(args),
            # The same environment the commands see: what the project's env drops is unset.
            env={**dict.fromkeys(UNSET_VARIABLES), "CONVEYOR_URL": self.url,
                 "COLUMNS": self.env["COLUMNS"]},
            catch_exceptions=False,
        )
        result = Result(args, done.exit_code, done.stdout, done.stderr)
        assert result.code == 0, result.describe()
        return result

    def job(self, job_id: int) -> dict[str, Any]:
        """``jobs show ID --json``."""
        found: dict[str, Any] = self.read("jobs", "show", str(job_id), "--json").json()
        return found

    def all_jobs(self) -> list[dict[str, Any]]:
        """Every job, newest first."""
        found: list[dict[str, Any]] = self.read("jobs", "list", "--json", "--limit", "10000"
                                                ).json()["jobs"]
        return found

    def burst(self, app: str = "shopapp:app", *extra: str) -> Result:
        """Run a burst worker to completion."""
        return self.ok("worker", app, "--burst", "--lease", "5", *extra, timeout=60)

    def burst_until(self, job_id: int, state: str) -> dict[str, Any]:
        """Run burst workers until the job reaches ``state`` (retries wait out backoff)."""
        def reached() -> dict[str, Any]:
            self.burst()
            found: dict[str, Any] = self.job(job_id)
            assert found["job"]["state"] == state, found["job"]
            return found

        reached_doc: dict[str, Any] = eventually(reached, timeout=60, interval=0.1)
        return reached_doc

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start ``python -m conveyor ARGS`` in the background (its own process group)."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "conveyor", *args],
            cwd=self.path,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def cleanup(self) -> None:
        """Kill whatever background command is still running."""
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A project folder with ``shopapp.py`` and ``billingapp.py``, CONVEYOR_URL set, migrated."""
    (tmp_path / "shopapp.py").write_text(SHOP_APP)
    (tmp_path / "billingapp.py").write_text(BILLING_APP)
    env = {k: v for k, v in os.environ.items() if k not in UNSET_VARIABLES}
    env["CONVEYOR_URL"] = f"sqlite:///{tmp_path / 'conveyor.db'}"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(tmp_path), str(SOURCE_ROOT), os.environ.get("PYTHONPATH")) if p
    )
    env["COLUMNS"] = "80"
    env["TMPDIR"] = str(tmp_path)
    proj = Project(tmp_path, env)
    # Migrated in this process (opening the store migrates it): `conveyor migrate` itself is
    # tested in test_cli_basics.py.
    open_store(env["CONVEYOR_URL"]).close()
    yield proj
    proj.cleanup()
