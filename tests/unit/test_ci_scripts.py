"""The two commands a fresh machine runs: `make test` prepares what the suite needs and runs
both steps whatever the first gives; `.ci/run` runs lint and the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The steps' pytest runs without xdist lanes (-n 0): these tests check which steps run and what
# they report, and every lane is one more interpreter importing the suite's plugins (about 4 s of
# CPU each), which on a loaded box ran the tests past their timeout.
NO_LANES = {"CONVEYOR_TEST_PARALLEL_WORKERS": "0", "CONVEYOR_TEST_PROCESS_WORKERS": "0"}


def run(args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> (
    subprocess.CompletedProcess[str]
):
    return subprocess.run(
        args, cwd=cwd, env={**os.environ, **NO_LANES, **(env or {})}, capture_output=True,
        text=True, timeout=110, check=False,
    )


def test_both_steps_run_and_both_failures_are_reported(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    (tmp_path / "first" / "test_a.py").write_text("def test_broken():\n    assert False\n")
    (tmp_path / "second" / "test_b.py").write_text("def test_fine():\n    assert True\n")
    (tmp_path / "third").mkdir()
    (tmp_path / "third" / "test_c.py").write_text("def test_broken():\n    assert False\n")

    done = run(
        [str(ROOT / "scripts/test-layers"), sys.executable, "first", "second", "-q",
         "-p", "no:cacheprovider"],
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "1 failed" in done.stdout  # the first step failed...
    assert "1 passed" in done.stdout  # ...and the second still ran
    assert "test-layers: failed: first (exit 1)" in done.stderr

    both = run(
        [str(ROOT / "scripts/test-layers"), sys.executable, "first", "third", "-q",
         "-p", "no:cacheprovider"],
        cwd=tmp_path,
    )
    assert both.returncode == 1
    assert "first (exit 1);third (exit 1)" in both.stderr


def test_passing_steps_pass(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "test_a.py").write_text("def test_fine():\n    pass\n")
    done = run(
        [str(ROOT / "scripts/test-layers"), sys.executable, "a", "a", "-q",
         "-p", "no:cacheprovider"],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every step passed" in done.stdout  # no exclusive test at all is fine


def test_exclusive_tests_run_alone_after_the_others_and_their_failures_count(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "test_a.py").write_text("def test_fine():\n    pass\n")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "test_p.py").write_text(
        "import pytest\n\n"
        "def test_shared():\n    pass\n\n"
        "@pytest.mark.exclusive\n"
        "def test_alone():\n    assert False\n"
    )
    done = run(
        [str(ROOT / "scripts/test-layers"), sys.executable, "a", "p", "-q",
         "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning"],
        cwd=tmp_path,
    )
    assert done.returncode == 1
    # The shared step passed (it ran only the unmarked test: xdist counts no deselection)...
    assert done.stdout.count("1 passed") == 2
    # ...and the exclusive one then ran on its own, and its failure is named.
    assert "1 failed, 1 deselected" in done.stdout
    assert "test-layers: failed: p, exclusive (exit 1)" in done.stderr


def test_a_missing_browser_is_named_in_one_line_with_how_to_get_it(tmp_path: Path) -> None:
    done = run(
        [str(ROOT / "scripts/test-prereqs")],
        env={"CONVEYOR_TEST_NO_INSTALL": "1", "CONVEYOR_TEST_CHROMIUM": str(tmp_path / "none")},
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if "Chromium" in line]
    assert len(lines) == 1
    assert "apt-get install chromium" in lines[0]


def test_make_test_prepares_before_it_runs_the_suite() -> None:
    plan = run(["make", "-n", "test"]).stdout
    assert "scripts/test-prereqs" in plan
    assert plan.index("scripts/test-prereqs") < plan.index("scripts/test-layers")


def test_make_lint_runs_ruff_mypy_and_the_import_layers_contract() -> None:
    plan = run(["make", "-n", "lint"]).stdout
    assert "ruff check conveyor tests" in plan
    assert "mypy conveyor" in plan
    assert "tests/unit/test_layers.py" in plan


def test_ci_runs_lint_and_the_tests_even_when_lint_fails(tmp_path: Path) -> None:
    # A stand-in `make` that records what it was asked and fails `lint`: .ci/run's own control
    # flow is what is under test here, not the targets (those run for real in CI).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    fake = bin_dir / "make"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n[ "$1" != lint ]\n')
    fake.chmod(0o755)
    done = run(
        ["bash", str(ROOT / ".ci/run")],
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}"},
    )
    assert log.read_text().split("\n")[:2] == ["lint", "test"]
    assert done.returncode == 1
    assert "make lint failed" in done.stderr
