"""``conveyor dashboard``: started as a user would, it prints a login URL that opens the
overview; refuses to listen beyond loopback unless told; says how to install what is missing."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import httpx

from .conftest import Project

STARTUP_SECONDS = 30.0


def login_line(proc: subprocess.Popen[str]) -> str:
    """The ``Dashboard: <url>`` line the command prints once it listens (read on a thread, so
    a command that never prints fails the test instead of hanging it)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=STARTUP_SECONDS)
        except queue.Empty:
            raise AssertionError(f"no login URL within {STARTUP_SECONDS}s; saw {seen}") from None
        if line is None:
            assert proc.stderr is not None
            raise AssertionError(
                f"the dashboard exited before printing its URL; saw {seen}; "
                f"stderr: {proc.stderr.read()}"
            )
        seen.append(line)
        if line.startswith("Dashboard: "):
            return line.removeprefix("Dashboard: ").strip()


def test_the_printed_login_url_opens_the_overview(project: Project) -> None:
    job_id = project.enqueue("shop.add", {"a": 1, "b": 2})
    proc = project.start("dashboard", "shopapp:app", "--port", "0")
    url = login_line(proc)
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.port
    assert parts.path == "/login" and parts.query.startswith("token=")
    token = parts.query.removeprefix("token=")
    assert len(token) >= 32
    base = f"http://127.0.0.1:{parts.port}"

    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        # Nothing answers job data before logging in.
        refused = browser.get(f"{base}/api/jobs/{job_id}")
        assert refused.status_code == 401
        overview = browser.get(url)  # logs in, sets the session cookie, lands on "/"
        assert overview.status_code == 200, overview.text[:500]
        assert urlsplit(str(overview.url)).path == "/"
        assert "text/html" in overview.headers["content-type"]
        assert "default" in overview.text  # the app's queue is on the overview
        # The session cookie keeps the browser logged in.
        again = browser.get(f"{base}/")
        assert again.status_code == 200 and urlsplit(str(again.url)).path == "/"

    with httpx.Client(timeout=10) as api:
        health = api.get(f"{base}/api/health", headers={"Authorization": f"Bearer {token}"})
        assert health.status_code == 200
        job = api.get(f"{base}/api/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
        assert job.status_code == 200 and job.json()["id"] == job_id
        wrong = api.get(f"{base}/api/health", headers={"Authorization": "Bearer " + "x" * 32})
        assert wrong.status_code == 401

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_given_tokens_are_used_and_the_read_token_cannot_act(project: Project) -> None:
    admin, reader = "admin-token-0123456789-abcdefghijk", "read-token-0123456789-abcdefghijkl"
    job_id = project.enqueue("shop.add", {"a": 1, "b": 2}, "--delay", "1h")
    proc = project.start("dashboard", "--app", "shopapp:app", "--port", "0",
                         "--token", admin, "--read-token", reader)
    url = login_line(proc)
    assert url.endswith(f"/login?token={admin}")
    base = url.split("/login", 1)[0]
    with httpx.Client(timeout=10) as api:
        as_reader = {"Authorization": f"Bearer {reader}"}
        assert api.get(f"{base}/api/jobs/{job_id}", headers=as_reader).status_code == 200
        assert api.post(f"{base}/api/jobs/{job_id}/cancel", headers=as_reader).status_code == 403
        as_admin = {"Authorization": f"Bearer {admin}"}
        assert api.post(f"{base}/api/jobs/{job_id}/cancel", headers=as_admin).status_code == 200
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert project.job(job_id)["job"]["state"] == "cancelled"


def test_a_non_loopback_host_is_refused_unless_allowed(project: Project) -> None:
    refused = project.fails("dashboard", "shopapp:app", "--host", "0.0.0.0")
    assert "beyond this machine" in refused.err and "--allow-remote" in refused.err


def test_short_tokens_and_a_missing_app_are_refused(project: Project) -> None:
    short = project.fails("dashboard", "shopapp:app", "--token", "short")
    assert "--token must be at least 32 characters" in short.err
    short_read = project.fails("dashboard", "shopapp:app", "--read-token", "r" * 31)
    assert "--read-token must be at least 32 characters" in short_read.err
    no_app = project.fails("dashboard")
    assert "which app" in no_app.err


def test_a_missing_web_extra_says_how_to_install_it(project: Project) -> None:
    # Hide uvicorn from this one process, as if the extra were not installed.
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "from conveyor.cli import main\n"
        "main(['dashboard', 'shopapp:app'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project.path, env=project.env,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'conveyor[web]'" in done.stderr
    assert "uvicorn" in done.stderr and "Traceback" not in done.stderr
