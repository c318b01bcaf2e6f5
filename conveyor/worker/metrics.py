"""Prometheus metrics of a worker: per-attempt counters and histograms, multi-process safe.

``conveyor worker --metrics-port N`` puts :class:`AttemptMetrics` (a built-in middleware)
in every worker process and serves ``/metrics`` from the supervisor. The processes share
nothing but files, so the supervisor points prometheus-client's multi-process mode
(``PROMETHEUS_MULTIPROC_DIR``) at a private temporary folder before it starts them: each
process writes its values to its own memory-mapped files there, and a scrape adds them up,
including those of processes that exited (counters never go backwards when a process is
replaced).

Labels are the queue and the job name, never the job id (one series per job would grow
without bound). The optional dependency is imported only when metrics are asked for.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from conveyor.errors import ConfigurationError
from conveyor.middleware import AttemptEnd, AttemptStart, CallNext, Enqueueing, Middleware

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_ENV = "CONVEYOR_WORKER_METRICS"
"""Set by a supervisor that serves metrics (a multi-process folder alone may be another app's);
its value is ``tenant`` when the series carry a tenant label (``--metrics-tenant``)."""
NO_TENANT = ""
"""The ``tenant`` label of jobs enqueued without a tenant."""

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
"""Seconds: from a no-op job to a long export."""
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
"""Seconds a due job waited before a worker took it."""


def prometheus() -> Any:
    """The ``prometheus_client`` module, or a clear error naming the extra to install."""
    try:
        return importlib.import_module("prometheus_client")
    except ImportError:
        raise ConfigurationError(
            "metrics need the prometheus-client package: pip install 'conveyor[metrics]' "
            "(or pip install prometheus-client), or run without --metrics-port"
        ) from None


class AttemptMetrics(Middleware):
    """Counts each attempt by outcome and observes its duration and queue wait; counts the
    jobs this process enqueues.

    ``conveyor_attempts_total{queue, job, outcome}``: ``outcome`` is the attempt's end
    (``succeeded``, ``retrying``, ``dead``, ``cancelled``, ``released``, ``lost``).
    ``conveyor_attempts_timed_out_total{queue, job}``: attempts stopped at their timeout (also
    counted under their outcome). ``conveyor_attempt_duration_seconds{queue, job}`` and
    ``conveyor_queue_wait_seconds{queue, job}`` are histograms.
    ``conveyor_jobs_enqueued_total{queue, job}``: jobs handed to the store by this process
    (counted as the enqueue is prepared: one a unique key turns into a duplicate, or that
    ``QueueFull`` refuses, counts too).

    ``tenant=True`` adds a ``tenant`` label (empty for jobs without one) to the attempts and
    enqueued counters: opt-in, since every tenant multiplies the series.
    """

    def __init__(self, registry: Any = None, *, tenant: bool = False) -> None:
        client = prometheus()
        where: dict[str, Any] = {} if registry is None else {"registry": registry}
        self.tenant = tenant
        extra = ["tenant"] if tenant else []
        self.attempts = client.Counter(
            "conveyor_attempts", "Attempts run, by how they ended.",
            ["queue", "job", "outcome", *extra], **where,
        )
        self.enqueued = client.Counter(
            "conveyor_jobs_enqueued", "Jobs this process enqueued.",
            ["queue", "job", *extra], **where,
        )
        self.timed_out = client.Counter(
            "conveyor_attempts_timed_out", "Attempts stopped at their timeout.",
            ["queue", "job"], **where,
        )
        self.duration = client.Histogram(
            "conveyor_attempt_duration_seconds", "How long attempts ran.",
            ["queue", "job"], buckets=DURATION_BUCKETS, **where,
        )
        self.wait = client.Histogram(
            "conveyor_queue_wait_seconds",
            "How long due jobs waited in their queue before an attempt started.",
            ["queue", "job"], buckets=WAIT_BUCKETS, **where,
        )

        self._series: dict[tuple[str, ...], tuple[Any, Any, Any]] = {}
        self._enqueued: dict[tuple[str, ...], Any] = {}

    def on_enqueue(self, job: Enqueueing) -> None:
        """Count the job (it runs in the enqueuing thread: one dict read and an increment)."""
        key = (job.queue, job.name, job.tenant or NO_TENANT) if self.tenant else (
            job.queue, job.name
        )
        counter = self._enqueued.get(key)
        if counter is None:
            counter = self._enqueued[key] = self.enqueued.labels(*key)
        counter.inc()

    async def around_attempt(self, attempt: AttemptStart, call_next: CallNext) -> AttemptEnd:
        """Run the attempt, then record it."""
        end = await call_next()
        ctx = attempt.ctx
        key: tuple[str, ...] = (ctx.queue, ctx.name, str(end.status))
        if self.tenant:
            key = (*key, ctx.tenant or NO_TENANT)
        series = self._series.get(key)
        if series is None:
            # Looking a labelled child up costs more than using it: keep them per key.
            series = self._series[key] = (
                self.attempts.labels(*key),
                self.duration.labels(ctx.queue, ctx.name),
                self.wait.labels(ctx.queue, ctx.name),
            )
        attempts, duration, wait = series
        attempts.inc()
        duration.observe(end.duration)
        wait.observe(attempt.queue_wait)
        if end.timed_out:
            self.timed_out.labels(ctx.queue, ctx.name).inc()
        return end


_SHARED: list[AttemptMetrics] = []


def worker_metrics() -> AttemptMetrics | None:
    """The middleware a worker process runs when its supervisor serves metrics (one per
    process: prometheus-client refuses a metric registered twice)."""
    if not os.environ.get(METRICS_ENV) or not os.environ.get(MULTIPROC_ENV):
        return None
    if not _SHARED:
        _SHARED.append(AttemptMetrics(tenant=os.environ[METRICS_ENV] == TENANT))
    return _SHARED[0]


TENANT = "tenant"


def share_with_children(folder: str, *, tenant: bool = False) -> None:
    """Make the worker processes started from now on record their metrics in ``folder``
    (with a ``tenant`` label when ``tenant``)."""
    os.environ[MULTIPROC_ENV] = folder
    os.environ[METRICS_ENV] = TENANT if tenant else "1"


class MetricsServer:
    """Serves the processes' metrics, added up, on ``/metrics`` (from the supervisor)."""

    def __init__(self, host: str, port: int, folder: str) -> None:
        client = prometheus()
        multiprocess = importlib.import_module("prometheus_client.multiprocess")
        self.registry = client.CollectorRegistry()
        multiprocess.MultiProcessCollector(self.registry, path=folder)
        try:
            self.server, self.thread = client.start_http_server(
                port, addr=host, registry=self.registry
            )
        except OSError as exc:
            raise ConfigurationError(
                f"--metrics-port {port}: cannot listen on {host}:{port} ({exc.strerror}); "
                "choose a free port"
            ) from exc

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
