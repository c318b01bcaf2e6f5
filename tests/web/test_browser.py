"""The dashboard as an operator drives it: Playwright and Debian's chromium, a real worker.

One walk through the pages: log in with the token URL, find a dead job, read its traceback,
check a dry run in the dead-letter queue, replay the job (it succeeds this time: the test
creates the flag file it was missing) and watch its page turn ``succeeded`` on its own, pause
a queue, and make sure a ``<script>`` in a job's args never runs. Every page visited is saved
as a full-page screenshot in ``test-artifacts/screenshots/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.models import Job, JobState
from conveyor.testing import eventually

from .conftest import ADMIN_TOKEN, Served

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
XSS = "<script>alert('xss')</script><img src=x onerror=alert(2)>"

APP_SOURCE = textwrap.dedent(
    '''
    """The app the browser test's worker runs (written to a temporary folder)."""
    import os
    import time
    from pathlib import Path

    from conveyor import Conveyor

    app = Conveyor(os.environ["CONVEYOR_URL"])
    FLAG = Path(os.environ["BROWSER_TEST_FLAG"])


    @app.job(name="import_orders", queue="orders", retries=0)
    def import_orders(ctx, batch: str) -> dict:
        """Fails for good until the flag file exists (the vendor is "back")."""
        if not FLAG.exists():
            raise ValueError(f"vendor refused batch {batch}: 503 Service Unavailable")
        return {"batch": batch, "imported": 3}


    @app.job(name="echo")
    def echo(ctx, text: str) -> str:
        return text


    @app.job(name="export_report", queue="reports")
    def export_report(ctx, pages: int) -> int:
        """Reports progress, then takes its time (it is still running when the test ends)."""
        ctx.progress(0.4, f"page 4 of {pages}")
        time.sleep(120)
        return pages


    app.schedule("nightly_export", "export_report", cron="0 3 * * *", args={"pages": 10})
    '''
)


@pytest.fixture
def browser_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Conveyor, dict[str, str]]]:
    """The app above on a fresh SQLite file, loaded here too; with the workers' environment."""
    (tmp_path / "webapp.py").write_text(APP_SOURCE)
    env = dict(os.environ)
    env.update(
        CONVEYOR_URL=f"sqlite:///{tmp_path / 'conveyor.db'}",
        BROWSER_TEST_FLAG=str(tmp_path / "vendor-is-back"),
        PYTHONPATH=os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")]),
        CONVEYOR_LOG_LEVEL="WARNING",
    )
    monkeypatch.setenv("CONVEYOR_URL", env["CONVEYOR_URL"])
    monkeypatch.setenv("BROWSER_TEST_FLAG", env["BROWSER_TEST_FLAG"])
    spec = importlib.util.spec_from_file_location(
        f"webapp_{tmp_path.name}", tmp_path / "webapp.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module.app, env


@pytest.fixture
def worker(browser_app: tuple[Conveyor, dict[str, str]]) -> Iterator[subprocess.Popen[bytes]]:
    """``conveyor worker webapp:app`` in its own process group, killed at the end."""
    _, env = browser_app
    proc = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "worker", "webapp:app", "--lease", "3"],
        env=env,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_for(app: Conveyor, job_id: int, check: Callable[[Job], bool]) -> Job:
    """The job once ``check`` holds for it (a real worker runs it meanwhile)."""

    def probe() -> Job | None:
        job = app.store.get_job(job_id)
        return job if job is not None and check(job) else None

    return eventually(probe, timeout=30)


@dataclass
class Walk:
    """A logged-in page over the dashboard, saving a screenshot of each page it shows."""

    page: Any
    url: str
    app: Conveyor

    def nav(self, label: str) -> None:
        """Follow a link of the top navigation."""
        self.page.get_by_role("navigation", name="Dashboard").get_by_role(
            "link", name=label, exact=True
        ).click()

    def shot(self, name: str) -> None:
        """Save the whole page as test-artifacts/screenshots/NAME.png."""
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def log_in(self) -> None:
        """The login form, then the token URL `conveyor dashboard` prints."""
        self.page.goto(f"{self.url}/login")
        expect(self.page.get_by_label("Token")).to_be_visible()
        self.shot("login")
        self.page.goto(f"{self.url}/login?token={ADMIN_TOKEN}")
        expect(self.page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
        expect(self.page.locator("#live")).to_contain_text("export_report")  # running now
        self.shot("overview")

    def dry_run_in_the_dead_letters(self, doomed: int) -> None:
        """The group of dead jobs, its confirmation page, and a dry run that writes nothing."""
        page = self.page
        self.nav("Dead letters")
        expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
        expect(page.locator("table").first).to_contain_text("import_orders")
        self.shot("dlq")
        page.get_by_role("button", name="Replay all…").first.click()
        expect(page.get_by_role("heading", name="Replay 1 dead job?")).to_be_visible()
        self.shot("dlq-confirm")
        page.get_by_role("button", name="Dry run").click()
        expect(page.get_by_role("status")).to_contain_text("nothing was written")
        self.shot("dlq-dry-run")
        assert self.app.store.get_job(doomed).state is JobState.DEAD  # type: ignore[union-attr]

    def replay_and_watch(self, doomed: int, flag: Path) -> None:
        """Open the dead job, read its traceback, replay it and watch it succeed."""
        page = self.page
        page.get_by_role("link", name=str(doomed), exact=True).click()
        expect(page.get_by_role("heading", name=f"Job {doomed}")).to_contain_text("dead")
        page.get_by_text("Traceback", exact=True).click()
        traceback = page.locator("details.traceback pre")
        expect(traceback).to_be_visible()
        expect(traceback).to_contain_text("ValueError: vendor refused batch 2024-06-01")
        expect(traceback).to_contain_text("Traceback (most recent call last)")
        self.shot("job-dead")
        flag.touch()  # the vendor is back: the replay succeeds
        page.get_by_role("button", name="Replay", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("queued to run again")
        # No reload from here on: the page's live region refreshes itself.
        page.evaluate("window.notReloaded = true")
        expect(page.locator("h1 .state")).to_have_text("succeeded", timeout=30_000)
        assert page.evaluate("window.notReloaded") is True
        expect(page.get_by_role("heading", name="Attempts (2)")).to_be_visible()
        expect(page.locator("#live")).to_contain_text('"imported": 3')
        self.shot("job-succeeded")

    def look_at_jobs(self, markup: int, running: int) -> None:
        """A job with markup in its args, a running one with progress, the filtered list."""
        page = self.page
        page.goto(f"{self.url}/jobs/{markup}")
        expect(page.locator("pre.code").first).to_contain_text("<script>alert('xss')</script>")
        self.shot("job-markup")
        page.goto(f"{self.url}/jobs/{running}")
        expect(page.locator("#progress-text")).to_contain_text("40%: page 4 of 10")
        self.shot("job-running")
        self.nav("Jobs")
        page.get_by_label("Job name").fill("echo")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("table.jobs tbody tr")).to_have_count(6)
        self.shot("jobs")

    def pause_a_queue(self) -> None:
        """Pause queue ``orders`` from /queues and see it paused."""
        page = self.page
        self.nav("Queues")
        row = page.locator('tr[data-queue="orders"]')
        row.get_by_role("button", name="Pause").click()
        expect(page.get_by_role("status")).to_contain_text("queue orders paused")
        expect(row).to_contain_text("paused by token-1")
        expect(row.get_by_role("button", name="Resume")).to_be_visible()
        assert "orders" in self.app.store.paused_queues()
        self.shot("queues")

    def the_rest(self, doomed: int) -> None:
        """Schedules, the audit log, and the overview once more."""
        page = self.page
        self.nav("Schedules")
        expect(page.locator('tr[data-schedule="nightly_export"]')).to_contain_text("03:00")
        self.shot("schedules")
        self.nav("Actions")
        expect(page.locator("table")).to_contain_text("pause_queue")
        expect(page.locator("table")).to_contain_text(f"job:{doomed}")
        self.shot("actions")
        self.nav("Overview")
        orders = page.locator('#live tr[data-queue="orders"]')
        expect(orders).to_contain_text("paused")
        page.evaluate("window.notReloaded = true")
        self.app.enqueue("import_orders", batch="2024-06-02")  # waits: the queue is paused
        expect(orders.locator("td").first).to_have_text("1", timeout=20_000)
        assert page.evaluate("window.notReloaded") is True
        self.shot("overview-after")


@pytest.mark.slow
def test_an_operator_replays_a_dead_job_and_pauses_a_queue(
    browser_app: tuple[Conveyor, dict[str, str]],
    worker: subprocess.Popen[bytes],
    serve: Callable[..., Served],
) -> None:
    app, env = browser_app
    served = serve(app)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # Work for the worker: a job that dies, one with markup in its args, one still running.
    doomed = app.enqueue("import_orders", batch="2024-06-01").id
    markup = app.enqueue("echo", text=XSS).id
    for n in range(5):
        app.enqueue("echo", text=f"hello {n}")
    running = app.enqueue("export_report", pages=10).id
    wait_for(app, doomed, lambda j: j.state is JobState.DEAD)
    wait_for(app, markup, lambda j: j.state is JobState.SUCCEEDED)
    wait_for(app, running, lambda j: j.progress is not None)

    dialogs: list[str] = []
    errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            walk = Walk(page, served.url, app)
            walk.log_in()
            walk.dry_run_in_the_dead_letters(doomed)
            walk.replay_and_watch(doomed, Path(env["BROWSER_TEST_FLAG"]))
            walk.look_at_jobs(markup, running)
            walk.pause_a_queue()
            walk.the_rest(doomed)
        finally:
            browser.close()

    assert dialogs == []  # no script from a job's args ran
    assert errors == []  # no script error, no CSP violation
