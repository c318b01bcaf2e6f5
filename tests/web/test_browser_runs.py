"""A pipeline run in the dashboard as an operator drives it: Playwright, Debian's chromium and
a real worker process.

The run fails at one item of its fan-out stage; the operator opens it from the Runs list,
sees the stage graph (an SVG drawn by the server: boxes coloured by state, the fan-out's item
counts), reads the failed stage's error, dry-runs a resume, then resumes from that stage with
a corrected input typed into the page, and watches the run finish without reloading. The
pages are saved as screenshots in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.models import RunState
from conveyor.testing import eventually

from .conftest import ADMIN_TOKEN, Served
from .test_browser import CHROMIUM, SCREENSHOTS

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

APP_SOURCE = textwrap.dedent(
    '''
    """The app the run browser test's worker runs (written to a temporary folder)."""
    import os

    from pydantic import BaseModel

    from conveyor import Conveyor, Permanent

    app = Conveyor(os.environ["CONVEYOR_URL"])


    class Row(BaseModel):
        sku: str
        cents: int


    etl = app.pipeline("etl")


    @etl.stage(retries=0)
    def extract(ctx, feed: str) -> list[str]:
        return [line for line in feed.splitlines() if line.strip()]


    @etl.stage(after=extract, each=lambda lines: lines, retries=0)
    def transform(ctx, line: str) -> Row:
        sku, _, price = line.partition(",")
        if not price.strip().replace(".", "", 1).isdigit():
            raise Permanent(f"no price in {line!r}")
        return Row(sku=sku.strip(), cents=round(float(price) * 100))


    @etl.stage(after=transform)
    def load(ctx, rows: list[Row]) -> int:
        return len(rows)
    '''
)


@pytest.fixture
def run_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Conveyor, dict[str, str]]]:
    """The app above on a fresh SQLite file, loaded here too; with the worker's environment."""
    (tmp_path / "etlapp.py").write_text(APP_SOURCE)
    env = dict(os.environ)
    env.update(
        CONVEYOR_URL=f"sqlite:///{tmp_path / 'conveyor.db'}",
        PYTHONPATH=os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")]),
        CONVEYOR_LOG_LEVEL="WARNING",
    )
    monkeypatch.setenv("CONVEYOR_URL", env["CONVEYOR_URL"])
    spec = importlib.util.spec_from_file_location(f"etlapp_{tmp_path.name}",
                                                  tmp_path / "etlapp.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module.app, env


@pytest.fixture
def worker(run_app: tuple[Conveyor, dict[str, str]]) -> Iterator[subprocess.Popen[bytes]]:
    """``conveyor worker etlapp:app`` in its own process group, killed at the end."""
    _, env = run_app
    proc = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "worker", "etlapp:app", "--lease", "3"],
        env=env,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def state_of(app: Conveyor, run_id: int) -> RunState | None:
    run = app.store.get_run(run_id)
    return None if run is None else run.state


def see_the_failed_run(page: Any, run_id: int) -> tuple[Any, Any]:
    """The failed run's page: one box per stage coloured by state, the fan-out counting its
    items, the failed item's error in the table. Returns the (heading, graph) locators."""
    heading = page.get_by_role("heading", name=f"Run {run_id}")
    expect(heading).to_contain_text("failed")
    graph = page.locator("svg.stage-graph")
    expect(graph).to_be_visible()
    expect(graph.locator("a.stage-box")).to_have_count(3)
    expect(graph.locator("path.edge")).to_have_count(2)
    expect(graph.locator('a.stage-succeeded[data-stage="extract"]')).to_have_count(1)
    failed = graph.locator('a.stage-failed[data-stage="transform"]')
    expect(failed).to_contain_text("items")
    box = failed.locator("rect.box").bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 40
    expect(page.locator("#stage-transform")).to_contain_text("no price in 'pear, n/a'")
    page.screenshot(path=str(SCREENSHOTS / "run-failed.png"), full_page=True)
    return heading, graph


@pytest.mark.slow
def test_an_operator_resumes_a_failed_run_from_its_page(
    run_app: tuple[Conveyor, dict[str, str]],
    worker: subprocess.Popen[bytes],
    serve: Callable[..., Served],
) -> None:
    app, _ = run_app
    served = serve(app)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    run_id = app.pipelines["etl"].start(feed="apple, 1.20\npear, n/a\nplum, 0.85\n").id
    eventually(lambda: state_of(app, run_id) is RunState.FAILED, timeout=30)

    dialogs: list[str] = []
    errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{served.url}/login?token={ADMIN_TOKEN}")
            page.get_by_role("navigation", name="Dashboard").get_by_role(
                "link", name="Runs", exact=True).click()
            expect(page.get_by_role("heading", name="Runs")).to_be_visible()
            expect(page.locator(f'tr[data-run="{run_id}"]')).to_contain_text("failed")
            page.screenshot(path=str(SCREENSHOTS / "runs.png"), full_page=True)
            page.get_by_role("link", name=str(run_id), exact=True).click()

            heading, graph = see_the_failed_run(page, run_id)

            # A dry run says what would happen and writes nothing.
            page.get_by_label("Re-run from").select_option("transform")
            page.get_by_role("button", name="Dry run").click()
            expect(page.get_by_role("status")).to_contain_text(
                "would re-run transform, load; reusing extract")
            assert state_of(app, run_id) is RunState.FAILED

            # The real resume, with the corrected lines typed in.
            page.get_by_label("Re-run from").select_option("transform")
            page.get_by_label("Replacement input").fill(
                '["apple, 1.20", "pear, 0.90", "plum, 0.85"]')
            page.get_by_role("button", name="Resume", exact=True).click()
            expect(page.get_by_role("status")).to_contain_text("resumed: re-running transform")
            page.evaluate("window.notReloaded = true")
            expect(heading).to_contain_text("succeeded", timeout=30_000)
            assert page.evaluate("window.notReloaded") is True
            expect(graph.locator("a.stage-succeeded")).to_have_count(3)
            expect(page.locator("svg.stage-graph")).to_contain_text("3/3 items")
            expect(page.locator("#live")).to_contain_text("Result")
            page.screenshot(path=str(SCREENSHOTS / "run-resumed.png"), full_page=True)
        finally:
            browser.close()

    assert state_of(app, run_id) is RunState.SUCCEEDED
    assert dialogs == []
    assert errors == []  # no script error, no CSP violation
