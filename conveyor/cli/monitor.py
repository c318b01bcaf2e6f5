"""``conveyor monitor --app myapp:app``: run the monitor on its own, outside the workers.

Workers run the monitor themselves unless ``app.configure_monitor(enabled=False)``; a lease in
the store keeps one monitor active at a time, so this command can run beside them as a spare
or alone as the only one. It loops until SIGINT or SIGTERM and gives the lease up on exit.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

import click

from conveyor._durations import to_seconds
from conveyor._logformat import setup_logging
from conveyor.cli import render
from conveyor.cli.options import Target, json_option, target_options
from conveyor.errors import ConfigurationError, StoreUnavailableError
from conveyor.monitor.service import Monitor, TickReport

log = logging.getLogger("conveyor.monitor")

MAX_BACKOFF = 60.0
"""Longest wait between rounds after store errors."""


@click.command(short_help="Run the monitor (alerts, check-ins, missed runs) on its own.")
@click.option("--once", is_flag=True, help="Run one round, print what it did, and exit.")
@click.option("--interval", metavar="DURATION",
              help="Time between rounds [default: the app's monitor interval, 10s].")
@json_option
@target_options
def monitor(target: Target, once: bool, interval: str | None, as_json: bool) -> None:
    """Run the monitor for your app (needs --app) until SIGINT or SIGTERM.

    Each round judges schedule slots, watches check-ins, evaluates the alert rules, opens and
    resolves incidents and delivers their notifications to the app's sinks. One line is
    printed per round that did something. Only one monitor acts at a time (a lease in the
    store); others wait and take over when it stops.
    """
    app = target.app()
    pause = app.monitor_config.interval if interval is None else to_seconds(
        interval, what="--interval")
    if pause < 0.1:
        raise ConfigurationError(f"--interval must be at least 0.1s, got {interval!r}")
    setup_logging("monitor")
    runner = Monitor(app, store=target.store())
    try:
        if once:
            report = runner.tick()
            if report.acted:
                runner.write_gauges()
            if as_json:
                render.print_json(report_doc(report))
            elif not report.acted:
                click.echo(f"another monitor holds the lease; {runner.holder} did nothing")
            else:
                click.echo(describe(report) or "nothing to do: no incident opened or resolved")
            return
        _loop(runner, pause)
    finally:
        with suppress(StoreUnavailableError):  # else the lease runs out by itself
            runner.release()
    click.echo("monitor stopped; lease released")


def _loop(runner: Monitor, pause: float) -> None:
    click.echo(f"monitor {runner.holder} running every {pause:g}s; Ctrl-C or SIGTERM stops it")
    failures = 0
    acting: bool | None = None
    with _stop_on_signals() as stop:
        while not stop.is_set():
            wait = pause
            try:
                report = runner.tick()
                if report.acted:  # the cluster gauges /metrics serves, apart from the round
                    runner.write_gauges()
                failures = 0
            except StoreUnavailableError as exc:
                failures += 1
                wait = min(MAX_BACKOFF, pause * 2**failures)
                click.echo(f"{_now()} store unavailable, trying again in {wait:g}s: {exc}",
                           err=True)
            except Exception:
                # A long-running service outlives one bad round, as the workers' monitor does.
                failures += 1
                wait = min(MAX_BACKOFF, pause * 2**failures)
                log.exception("monitor round failed; trying again in %gs", wait)
            else:
                if report.acted != acting:
                    acting = report.acted
                    click.echo(f"{_now()} " + ("holding the lease: this monitor acts" if acting
                                               else "another monitor holds the lease; waiting"))
                line = describe(report)
                if line:
                    click.echo(f"{_now()} {line}")
            stop.wait(wait)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM (the round in progress finishes first)."""
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _now() -> str:
    return time.strftime("%H:%M:%S")


def describe(report: TickReport) -> str:
    """One line saying what a round did; empty when it did nothing worth a line."""
    if not report.acted:
        return ""
    parts = []
    if report.judged:
        parts.append(f"judged {render.plural(report.judged, 'slot')}")
    for verb, keys in (("opened", report.opened), ("resolved", report.resolved),
                       ("reminded", report.reminded)):
        if keys:
            parts.append(f"{verb} " + ", ".join(f"{rule} {subject}" for rule, subject in keys))
    if report.delivered:
        parts.append(f"delivered {render.plural(report.delivered, 'notification')}")
    if report.failed_deliveries:
        count = report.failed_deliveries
        parts.append(f"{count} deliver{'y' if count == 1 else 'ies'} failed "
                     "(see `conveyor alerts`)")
    if report.rule_errors:
        parts.append("rule errors: " + "; ".join(report.rule_errors))
    return "; ".join(parts)


def report_doc(report: TickReport) -> dict[str, object]:
    """A round's report as JSON."""
    return {
        "acted": report.acted,
        "holder": report.holder,
        "judged": report.judged,
        "opened": [list(key) for key in report.opened],
        "resolved": [list(key) for key in report.resolved],
        "reminded": [list(key) for key in report.reminded],
        "delivered": report.delivered,
        "failed_deliveries": report.failed_deliveries,
        "rule_errors": report.rule_errors,
    }
