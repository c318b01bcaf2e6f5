"""``conveyor worker myapp:app``: run worker processes until SIGTERM (or, with --burst, idle)."""

from __future__ import annotations

import os

import click

from conveyor._durations import to_seconds
from conveyor._loading import load_app
from conveyor._logformat import LOG_FORMAT_ENV, check_log_format
from conveyor.cli.options import APP_ENV, URL_ENV
from conveyor.errors import ConfigurationError


def parse_queues(text: str | None) -> tuple[tuple[str, ...], dict[str, int]]:
    """``"emails=8, exports"`` as ``(("emails", "exports"), {"emails": 8})``.

    An empty text means every queue; ``NAME=N`` caps that queue at N jobs at once per process.
    """
    if not text:
        return (), {}
    queues: dict[str, None] = {}
    slots: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, count = (piece.strip() for piece in item.partition("="))
        queues[name] = None
        if sep:
            if not count.isdigit() or int(count) < 1:
                raise ConfigurationError(
                    f"--queues {item!r}: the number after '=' is the queue's slots per process, "
                    f"a whole number of 1 or more (e.g. {name}=4)"
                )
            slots[name] = int(count)
    return tuple(queues), slots


def parse_processes(text: str) -> tuple[int, int | None]:
    """``"2"`` as ``(2, None)`` (fixed) and ``"1..8"`` as ``(1, 8)`` (grow and shrink)."""
    least, dots, most = text.strip().partition("..")
    try:
        low = int(least)
        high = int(most) if dots else None
    except ValueError:
        low, high = 0, None
    if low < 1 or (dots and (high is None or high < low)):
        raise ConfigurationError(
            f"--processes {text!r}: give a number of processes (e.g. 2), or the least and the "
            "most to grow and shrink between with the backlog (e.g. 1..8)"
        )
    return low, high


@click.command(short_help="Run workers for an app until SIGTERM (or until idle, with --burst).")
@click.argument("app_arg", metavar="[APP]", required=False)
@click.option("--app", "app_option", envvar=APP_ENV, metavar="MODULE:ATTR",
              help=f"Your app, if not given as APP [env {APP_ENV}].")
@click.option("--url", envvar=URL_ENV, metavar="URL",
              help=f"Store URL [env {URL_ENV}; default: the app's URL].")
@click.option("--queues", metavar="A,B=N", help="Queues to read, comma-separated (default: all "
              "queues the app's jobs use); B=N caps queue B at N jobs at once per process.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1),
              help="Jobs at once in each process.")
@click.option("--processes", default="1", show_default=True, metavar="N|MIN..MAX",
              help="Worker processes to run; MIN..MAX grows and shrinks them with the backlog.")
@click.option("--scale-wait", default="30s", show_default=True, metavar="DURATION",
              help="With MIN..MAX: grow to start every ready job within this long.")
@click.option("--scale-cooldown", default="60s", show_default=True, metavar="DURATION",
              help="With MIN..MAX: shrink one process per this long of lower load.")
@click.option("--max-jobs-per-process", type=click.IntRange(1), metavar="N",
              help="Replace a process with a fresh one (after a drain) once it ran N jobs.")
@click.option("--max-memory", metavar="MIB", type=click.FloatRange(min=1),
              help="Replace a process (after a drain) once its resident memory passes MIB.")
@click.option("--lease", default="30", show_default=True, metavar="DURATION",
              help="How long a claim holds a job without a heartbeat.")
@click.option("--drain-timeout", default="30", show_default=True, metavar="DURATION",
              help="On SIGTERM, how long running jobs may finish before being handed back.")
@click.option("--burst", is_flag=True,
              help="Exit once no job of the queues is due or running (for tests and cron).")
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Fire the app's schedules from each process (each slot runs once overall).")
@click.option("--monitor/--no-monitor", default=True, show_default=True,
              help="Run the monitor (one process in the cluster is active at a time).")
@click.option("--log-format", envvar=LOG_FORMAT_ENV, metavar="text|json",
              help="Log lines as text, or as JSON objects one per line, job fields included "
              f"[env {LOG_FORMAT_ENV}; default: text].")
@click.option("--health-port", type=click.IntRange(1, 65535), metavar="PORT",
              help="Serve /livez and /readyz on this port (unauthenticated).")
@click.option("--health-host", default="0.0.0.0", show_default=True, metavar="ADDRESS",
              help="The address the health probes listen on.")
@click.option("--health-stall", default="10", show_default=True, metavar="DURATION",
              help="How long a process's event loop may not run before /livez fails.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), metavar="PORT",
              help="Serve Prometheus metrics on /metrics at this port (needs prometheus-client).")
@click.option("--metrics-host", default="0.0.0.0", show_default=True, metavar="ADDRESS",
              help="The address the metrics listen on.")
@click.option("--metrics-tenant", is_flag=True,
              help="Label the attempts and enqueued counters by tenant too (one series per "
                   "tenant: use with a bounded number of tenants).")
def worker(app_arg: str | None, app_option: str | None, url: str | None, queues: str | None,
           concurrency: int, processes: str, scale_wait: str, scale_cooldown: str,
           max_jobs_per_process: int | None, max_memory: float | None, lease: str,
           drain_timeout: str, burst: bool, scheduler: bool, monitor: bool,
           log_format: str | None, health_port: int | None, health_host: str,
           health_stall: str, metrics_port: int | None, metrics_host: str,
           metrics_tenant: bool) -> None:
    """Run workers for APP (e.g. `conveyor worker myapp:app --queues emails --processes 2`).

    Stops gracefully on SIGTERM or Ctrl-C: running jobs get --drain-timeout to finish, the
    rest are handed back to the queue.
    """
    least, most = parse_processes(processes)
    spec = app_arg or app_option
    if not spec:
        raise ConfigurationError(
            "which app should the worker run? pass it as `conveyor worker myapp:app`, with "
            f"--app myapp:app, or set {APP_ENV}=myapp:app"
        )
    # The child processes read the format from the environment, as they read the URL.
    os.environ[LOG_FORMAT_ENV] = check_log_format(log_format)
    if url:
        # The worker's child processes import the app themselves and read CONVEYOR_URL.
        os.environ[URL_ENV] = url
    # Import the app here first so a typo fails now, with a clear message, not in a child.
    load_app(spec)

    from conveyor.worker import WorkerConfig, run_worker

    if metrics_port is not None:
        from conveyor.worker.metrics import prometheus

        prometheus()  # missing the optional package: say so now, in one line

    queue_names, queue_slots = parse_queues(queues)
    config = WorkerConfig(
        queues=queue_names,
        queue_slots=queue_slots,
        concurrency=concurrency,
        processes=least,
        max_processes=most,
        scale_wait=to_seconds(scale_wait, what="--scale-wait"),
        scale_cooldown=to_seconds(scale_cooldown, what="--scale-cooldown"),
        max_jobs_per_process=max_jobs_per_process,
        max_memory_mb=max_memory,
        lease=to_seconds(lease, what="--lease"),
        drain_timeout=to_seconds(drain_timeout, what="--drain-timeout"),
        burst=burst,
        scheduler=scheduler,
        monitor=monitor,
        health_port=health_port,
        health_host=health_host,
        health_stall=to_seconds(health_stall, what="--health-stall"),
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        metrics_tenant=metrics_tenant,
    )
    click.get_current_context().exit(run_worker(spec, config))
