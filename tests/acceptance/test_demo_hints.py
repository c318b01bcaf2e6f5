"""The commands ``conveyor demo`` prints at the end work when pasted into a shell: they name a
database that still exists (only with --keep) and a ``conveyor`` the shell can find."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conveyor.cli.demo_summary import _commands
from conveyor.store import open_store


def test_a_kept_demos_hints_run_from_a_shell_without_the_venv_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'demo folder' / 'demo.db'}"  # a space, to test quoting
    (tmp_path / "demo folder").mkdir()
    open_store(url).close()
    monkeypatch.chdir(tmp_path)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p)
    monkeypatch.setenv("PATH", path)
    _commands(url, [], kept=True)
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    hints = [line for line in lines if line.startswith("CONVEYOR_URL=")]
    assert len(hints) == 5
    for hint in (hints[0], hints[2]):  # queues, dlq list
        done = subprocess.run(["/bin/sh", "-c", hint], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "PATH": path}, check=False)
        assert done.returncode == 0, (hint, done.stdout, done.stderr)
    assert any("worker conveyor.demo.app:app" in line for line in lines)


def test_a_removed_demo_says_how_to_keep_one(capsys: pytest.CaptureFixture[str]) -> None:
    _commands("sqlite:////nowhere/demo.db", [], kept=False)
    out = capsys.readouterr().out
    assert "this run's database was removed" in out and "demo --keep" in out
    assert "/nowhere" not in out  # no command points at the deleted database
