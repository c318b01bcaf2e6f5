"""`conveyor demo` on a fresh machine: runs to the end, shows the DLQ, stops on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from .conftest import Project

pytestmark = pytest.mark.slow


def _demo_env(project: Project) -> dict[str, str]:
    env = {k: v for k, v in project.env.items() if k != "CONVEYOR_URL"}
    env["COLUMNS"] = "100"
    return env


def _leftovers(project: Project) -> list[str]:
    return [p.name for p in project.path.iterdir() if p.name.startswith("conveyor-demo-")]


def test_demo_runs_to_completion(project: Project) -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "conveyor", "demo"], cwd=project.path,
                          env=_demo_env(project), capture_output=True, text=True, timeout=90,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert time.monotonic() - started < 60
    out = done.stdout
    assert "dead-letter queue: 2 jobs" in out
    assert "demo.import_contacts after 3 attempts: ValueError" in out
    assert "demo.charge_card" in out
    assert "retried, then succeeded" in out and "demo.sync_crm" in out
    assert "succeeded: 24" in out
    assert "conveyor dlq list" in out
    assert _leftovers(project) == []  # the temp folder is removed


def test_demo_stops_gracefully_on_ctrl_c(project: Project) -> None:
    # A suite started in the background by a non-interactive shell inherits SIGINT ignored,
    # and Python keeps an ignored SIGINT ignored: give the demo the disposition a terminal's
    # Ctrl-C would find (a handled signal is reset to the default by exec).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "conveyor", "demo"], cwd=project.path,
                                env=_demo_env(project), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "jobs:" in line and "running" in line:
            break
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=60)
    out = "".join(lines) + rest
    assert proc.returncode == 130, out + err
    assert "interrupted: stopping the worker" in out
    assert "Summary after" in out
    pid = int(re.search(r"worker started \(pid (\d+)", out).group(1))  # type: ignore[union-attr]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert _leftovers(project) == []
