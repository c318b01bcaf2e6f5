"""``conveyor demo``: a complete, live example on SQLite in a temporary folder.

It enqueues a small workload (emails, exports with progress, a flaky API call, jobs that end in
the dead-letter queue, a delayed reminder), starts a real worker as a subprocess, shows the
jobs move until all are final, stops the worker with SIGTERM and prints a summary.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import click

import conveyor
from conveyor._durations import to_seconds
from conveyor._loading import load_app
from conveyor.cli import render
from conveyor.cli.demo_summary import print_summary
from conveyor.cli.demo_view import Tracker, make_view
from conveyor.cli.options import URL_ENV
from conveyor.models import Job
from conveyor.store.protocol import Store

DEMO_APP = "conveyor.demo.app:app"
POLL_SECONDS = 0.2
STOP_SECONDS = 20.0
INTERRUPTED_EXIT = 130


class DemoFailed(Exception):
    """The demo could not finish (the worker died, or time ran out)."""


@click.command(short_help="Run a live example on a throw-away SQLite database.")
@click.option("--processes", default=2, show_default=True, type=click.IntRange(1, 16),
              help="Worker processes to start.")
@click.option("--keep", is_flag=True, help="Keep the demo folder and database afterwards.")
@click.option("--timeout", default="50s", show_default=True, metavar="DURATION",
              help="Give up if the jobs are not all final by then.")
def demo(processes: int, keep: bool, timeout: str) -> None:
    """Run a complete example on a throw-away SQLite database, with a live view.

    Needs no configuration. Ctrl-C stops the worker gracefully and prints what happened.
    """
    limit = to_seconds(timeout, what="--timeout")
    folder = Path(tempfile.mkdtemp(prefix="conveyor-demo-"))
    url = f"sqlite:///{folder / 'demo.db'}"
    os.environ[URL_ENV] = url
    code = 0
    try:
        code = _run(folder, url, processes, limit, keep)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    click.get_current_context().exit(code)


def _run(folder: Path, url: str, processes: int, limit: float, keep: bool) -> int:
    app = load_app(DEMO_APP)
    app.url = url
    from conveyor.demo.app import enqueue_workload

    job_ids = enqueue_workload()
    click.echo(f"Conveyor demo: {len(job_ids)} jobs enqueued in {folder / 'demo.db'}")
    log_path = folder / "worker.log"
    started = time.monotonic()
    worker = _start_worker(folder, url, processes, log_path)
    click.echo(f"worker started (pid {worker.pid}, {processes} processes); "
               "Ctrl-C stops it gracefully")
    code = 0
    try:
        title = f"Conveyor demo: {len(job_ids)} jobs, {processes} worker processes"
        _watch(app.store, job_ids, worker, started, limit, title)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: stopping the worker (SIGTERM)…")
        code = INTERRUPTED_EXIT
    except DemoFailed as exc:
        click.echo(f"\nerror: {exc}", err=True)
        _show_log(log_path)
        code = 1
    finally:
        status = _stop_worker(worker)
    if code == 0 and status not in (0, None):
        click.echo(f"warning: the worker exited with status {status}", err=True)
        _show_log(log_path)
    try:
        print_summary(app.store, job_ids, url=url, elapsed=time.monotonic() - started,
                      kept=keep)
    finally:
        app.close()
    return code


def _start_worker(folder: Path, url: str, processes: int,
                  log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, **{URL_ENV: url})
    # Make sure the child finds this very conveyor even when it runs from a source checkout.
    source_root = str(Path(conveyor.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "conveyor", "worker", DEMO_APP, "--processes",
            str(processes), "--concurrency", "8", "--lease", "10"]
    with log_path.open("wb") as log:
        # A process group of its own: Ctrl-C reaches only the demo, which then stops the
        # worker with SIGTERM, the way a deploy would.
        return subprocess.Popen(argv, cwd=folder, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, process_group=0)


def _watch(store: Store, job_ids: Sequence[int], worker: subprocess.Popen[bytes],
           started: float, limit: float, title: str) -> None:
    console = render.console()
    tracker = Tracker()
    with make_view(console, title) as view:
        while True:
            elapsed = time.monotonic() - started
            jobs = store.get_jobs(job_ids)
            view.show(tracker.update(jobs, elapsed))
            if _all_final(jobs):
                return
            if worker.poll() is not None:
                raise DemoFailed(
                    f"the worker exited early with status {worker.returncode}; its log follows"
                )
            if elapsed > limit:
                raise DemoFailed(f"jobs were still unfinished after {limit:.0f}s")
            time.sleep(POLL_SECONDS)


def _all_final(jobs: Sequence[Job]) -> bool:
    return bool(jobs) and all(job.state.is_final for job in jobs)


def _stop_worker(worker: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM the worker and wait for it; kill it if it does not stop in time."""
    if worker.poll() is not None:
        return worker.returncode
    try:
        worker.send_signal(signal.SIGTERM)
        return worker.wait(timeout=STOP_SECONDS)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        click.echo("the worker did not stop in time; killing it", err=True)
        os.killpg(worker.pid, signal.SIGKILL)
        return worker.wait()


def _show_log(path: Path, lines: int = 30) -> None:
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    if tail:
        click.echo(f"--- last lines of {path} ---", err=True)
        for line in tail:
            click.echo(line, err=True)
