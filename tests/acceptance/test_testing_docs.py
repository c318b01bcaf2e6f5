"""docs/testing.md as a user meets it: its blocks, written out as a project, pass under pytest.

The blocks marked ``<!-- file: NAME -->`` are that project's files (the app, its
``pyproject.toml`` naming the app for the plugin, three test modules); the unmarked Python
block is a script run on its own. pytest runs in a subprocess, so the plugin is found through
its entry point exactly as in a user's environment, and ``conveyor_postgres`` gets the suite's
PostgreSQL server: nothing is skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The suite's server when CONVEYOR_TEST_POSTGRES_URL is unset, as in tests/conftest.py."""

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"(?:<!-- file: (?P<file>\S+) -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)


def _blocks() -> tuple[dict[str, str], list[str]]:
    """The guide's files by name, and its unmarked Python blocks."""
    files: dict[str, str] = {}
    loose: list[str] = []
    for match in BLOCK.finditer(DOC.read_text()):
        if match["file"]:
            files[match["file"]] = match["body"]
        elif match["lang"] == "python":
            loose.append(match["body"])
    return files, loose


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    server = os.environ.get("CONVEYOR_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    env = {**os.environ, "CONVEYOR_TEST_POSTGRES_URL": server, "PYTHONPATH": ""}
    env.pop("CONVEYOR_URL", None)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )


def test_the_guides_project_passes_under_pytest_with_the_plugin(tmp_path: Path) -> None:
    files, _ = _blocks()
    assert set(files) == {
        "tasks.py", "pyproject.toml", "test_inline.py", "test_manual.py", "test_postgres.py"
    }
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    done = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b8 passed\b", done.stdout), done.stdout
    assert "skipped" not in done.stdout


def test_the_guides_script_without_pytest_runs(tmp_path: Path) -> None:
    files, loose = _blocks()
    (tmp_path / "tasks.py").write_text(files["tasks.py"])
    [script] = loose
    (tmp_path / "script.py").write_text(script)
    done = _run(["script.py"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "test-conveyor.db").exists()
    assert not (tmp_path / "conveyor.db").exists()  # the app's own database was left alone
