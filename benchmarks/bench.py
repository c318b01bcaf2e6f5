"""Conveyor benchmarks: enqueue throughput, processing throughput, enqueue-to-start latency.

Run from the repository root::

    .venv/bin/python benchmarks/bench.py                       # both stores, 1 run each
    .venv/bin/python benchmarks/bench.py --stores sqlite --runs 3
    .venv/bin/python benchmarks/bench.py --quick               # smoke run, well under a minute

Every measurement gets a fresh database: a new SQLite file in a temporary folder, or a new
PostgreSQL database ``conveyor_bench_<pid>_<k>`` created on ``--pg-url`` and dropped afterwards
(also on Ctrl-C). Only loopback PostgreSQL hosts are accepted. Workers are real: ``run_worker``
(a supervisor plus its worker processes) in a subprocess of its own.

Output: the command line and machine facts (lines starting with ``#``), then one JSON line per
measurement (the median of ``--runs`` runs, with min, max and every run's value), then a table
with the issue's targets beside the medians. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import platform
import resource
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import benchapp

from conveyor import Conveyor, Job, JobDefinition, JobState
from conveyor.store.protocol import JobFilter

HERE = Path(__file__).resolve().parent
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
WARM_UP = 100
"""Enqueues done (and not timed) before a timed enqueue loop: imports, caches, first plans."""
LATENCY_INTERVAL = 0.020
"""One job every 20 ms: 50 jobs/s, the light steady load of the latency measurement."""
BULK_PREFILL = 1_000
"""Batch size used to pre-enqueue the jobs a processing measurement works off."""
POLL = 0.1
IDLE_THRESHOLD = 0.15
"""Host CPU share under which the machine counts as quiet enough to start a run."""

WORKER_MAIN = (
    "import json, sys\n"
    "from conveyor.worker import WorkerConfig, run_worker\n"
    "sys.exit(run_worker(sys.argv[1], WorkerConfig(**json.loads(sys.argv[2]))))\n"
)
"""What the worker subprocess runs: the real supervisor, which starts the worker processes."""


class BenchError(Exception):
    """A measurement could not complete (a timeout, a worker crash, jobs not succeeded)."""


# -- what is measured, and the targets ---------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One reported figure: its table label, unit, and whether higher is better."""

    label: str
    unit: str
    higher_is_better: bool = True


METRICS: dict[str, Metric] = {
    "enqueue_single": Metric("single enqueue, 1 producer", "jobs/s"),
    "enqueue_single_2p": Metric("single enqueue, 2 producers (total)", "jobs/s"),
    "enqueue_bulk_1000": Metric("bulk enqueue, 1,000 per call", "jobs/s"),
    "enqueue_bulk_10000": Metric("bulk enqueue, 10,000 per call", "jobs/s"),
    "process_async_wall": Metric("process async no-op, wall incl. start-up", "jobs/s"),
    "process_async_active": Metric("process async no-op, first start..last finish", "jobs/s"),
    "process_sync_wall": Metric("process sync no-op, wall incl. start-up", "jobs/s"),
    "process_sync_active": Metric("process sync no-op, first start..last finish", "jobs/s"),
    "latency_p50": Metric("enqueue-to-start latency p50 @ 50 jobs/s", "ms", False),
    "latency_p90": Metric("enqueue-to-start latency p90 @ 50 jobs/s", "ms", False),
    "latency_p99": Metric("enqueue-to-start latency p99 @ 50 jobs/s", "ms", False),
    "latency_max": Metric("enqueue-to-start latency max @ 50 jobs/s", "ms", False),
    "priority_p50": Metric("high-priority wait behind a low-priority backlog, p50", "ms", False),
    "priority_p99": Metric("high-priority wait behind a low-priority backlog, p99", "ms", False),
    "fair_plain_active": Metric("no-op jobs without tenants, fair claim", "jobs/s"),
    "fair_tenants_active": Metric("no-op jobs over 20 tenants taking turns", "jobs/s"),
    "fair_ratio": Metric("throughput with tenants / without (100 = free)", "%"),
    "fair_small_p50": Metric("small tenant's wait behind another's flood, p50", "ms", False),
    "fair_small_p99": Metric("small tenant's wait behind another's flood, p99", "ms", False),
    "fair_flood_p50": Metric("flooding tenant's own wait, p50", "ms", False),
    "fair_flood_p99": Metric("flooding tenant's own wait, p99", "ms", False),
    "limit_plain_active": Metric("async no-op, plain, first start..last finish", "jobs/s"),
    "limit_limited_active": Metric("async no-op, Concurrency(10000), same run", "jobs/s"),
    "limit_ratio": Metric("throughput limited / plain (100 = free)", "%"),
}

_PROCESS = ("process_async_wall", "process_async_active", "process_sync_wall",
            "process_sync_active")
TARGETS: dict[tuple[str, str], float] = {
    **{("postgres", m): 12_000.0 for m in _PROCESS},
    ("postgres", "enqueue_single"): 3_500.0,
    ("postgres", "enqueue_single_2p"): 3_500.0,
    ("postgres", "enqueue_bulk_1000"): 100_000.0,
    ("postgres", "enqueue_bulk_10000"): 100_000.0,
    ("postgres", "latency_p50"): 2.0,
    ("postgres", "latency_p99"): 5.0,
    **{("sqlite", m): 15_000.0 for m in _PROCESS},
    ("sqlite", "enqueue_single"): 10_000.0,
    ("sqlite", "enqueue_single_2p"): 10_000.0,
}
"""The issue's targets (jobs/s: at least; ms: at most), shown beside the measured values."""


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    single: int
    single_2p_each: int
    bulk_total: int
    process: int
    latency_seconds: float
    backlog: int


FULL = Sizes(single=20_000, single_2p_each=10_000, bulk_total=100_000, process=20_000,
             latency_seconds=10.0, backlog=100_000)
QUICK = Sizes(single=1_000, single_2p_each=500, bulk_total=20_000, process=2_000,
              latency_seconds=2.0, backlog=10_000)


@dataclass(frozen=True)
class Settings:
    """Command-line settings every measurement sees."""

    sizes: Sizes
    processes: int
    concurrency: int
    timeout: float
    logs: Path
    idle_wait: float


@dataclass
class Sample:
    """One run's value of one metric, with whatever else that run learned."""

    metric: str
    value: float
    n: int
    extra: dict[str, Any] = field(default_factory=dict)


def group_cpu(pgid: int) -> float:
    """CPU seconds so far of the live processes in process group ``pgid`` (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) == pgid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / tick


class CpuMeter:
    """CPU spent while it runs: by this benchmark (itself plus waited-for children) and by the host.

    ``bench_cpu_s`` counts the benchmark process and every child it has waited for (a worker
    subprocess counts once it has exited, with its own worker processes), plus the live
    processes of process group ``group`` (a worker that is still running). ``host_busy`` is the
    share of all CPUs busy machine-wide (from ``/proc/stat``), so a busy neighbour or the
    database server shows up as ``host_busy`` well above what ``bench_cpu_s`` explains.
    """

    def __init__(self, group: int | None = None) -> None:
        self.group = group
        self.wall = time.monotonic()
        self.own = self._own()
        self.host = self._host()

    def _own(self) -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime
        return own + (group_cpu(self.group) if self.group is not None else 0.0)

    @staticmethod
    def _host() -> tuple[int, int, int] | None:
        """(busy, total, steal) jiffies across all CPUs, or None off Linux."""
        try:
            with open("/proc/stat") as stat:
                fields = [int(x) for x in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        steal = fields[7] if len(fields) > 7 else 0
        total = sum(fields[:8])
        return total - idle, total, steal

    def read(self, jobs: int | None = None) -> dict[str, Any]:
        """What was spent since the meter started (per job too, when ``jobs`` is given)."""
        wall = time.monotonic() - self.wall
        own = self._own() - self.own
        out: dict[str, Any] = {"bench_cpu_s": round(own, 3)}
        if jobs:
            out["bench_cpu_us_per_job"] = round(own / jobs * 1e6, 1)
        host = self._host()
        if host is not None and self.host is not None and host[1] > self.host[1]:
            busy, total, steal = (a - b for a, b in zip(host, self.host, strict=True))
            out["host_busy"] = round(busy / total, 3)
            out["host_steal"] = round(steal / total, 3)
            cpus = os.cpu_count() or 1
            out["host_busy_cpu_s"] = round(busy / total * wall * cpus, 3)
            # Busy CPU not spent by the benchmark: neighbours (and the database server).
            out["host_other_busy"] = round(max(0.0, busy / total - own / (wall * cpus)), 3)
        return out


def host_busy(seconds: float = 1.0) -> float | None:
    """Share of all CPUs busy machine-wide over the next ``seconds`` (None off Linux)."""
    before = CpuMeter._host()
    time.sleep(seconds)
    after = CpuMeter._host()
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def wait_for_idle(max_wait: float, threshold: float = IDLE_THRESHOLD) -> float | None:
    """Wait (at most ``max_wait`` seconds) until the host is quiet; return the last busy share.

    The box is shared (a test suite running beside the benchmark halves its figures), so each
    run starts only once less than ``threshold`` of the CPUs are busy, or when the wait is over.
    """
    if max_wait <= 0:
        return None
    deadline = time.monotonic() + max_wait
    busy = host_busy()
    announced = False
    while busy is not None and busy >= threshold and time.monotonic() < deadline:
        if not announced:
            progress(f"host {busy:.0%} busy; waiting up to {max_wait:.0f}s for it to settle")
            announced = True
        busy = host_busy()
    if announced:
        state = "settled" if busy is not None and busy < threshold else "still busy; going on"
        progress(f"host {busy:.0%} busy: {state}")
    return busy


# -- stores: a fresh database per measurement ---------------------------------------------------


class Target(Protocol):
    """A store under test: hands out fresh, empty databases and cleans them up."""

    name: str

    def version(self) -> str:
        """The database engine's version."""
        ...

    def fresh(self, label: str) -> contextlib.AbstractContextManager[str]:
        """A context yielding the URL of a new, empty database, removed on exit."""
        ...

    def cleanup(self) -> None:
        """Remove anything left behind (called once, at the end, even after Ctrl-C)."""
        ...


class SQLiteTarget:
    """SQLite files in a private temporary folder (on the same disk as ``--tmpdir``)."""

    name = "sqlite"

    def __init__(self, tmpdir: str | None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="conveyor-bench-", dir=tmpdir))
        self.count = 0

    def version(self) -> str:
        """The SQLite library Python's ``sqlite3`` is linked against."""
        return sqlite3.sqlite_version

    @contextlib.contextmanager
    def fresh(self, label: str) -> Iterator[str]:
        """A new database file in its own folder (so -wal and -shm go with it)."""
        self.count += 1
        folder = self.root / f"{self.count:03d}-{label}"
        folder.mkdir()
        try:
            yield f"sqlite:///{folder / 'bench.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def cleanup(self) -> None:
        """Remove the temporary folder."""
        shutil.rmtree(self.root, ignore_errors=True)


class PostgresTarget:
    """Databases ``conveyor_bench_<pid>_<k>`` on a loopback PostgreSQL server."""

    name = "postgres"

    def __init__(self, admin_url: str) -> None:
        parts = urlsplit(admin_url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise SystemExit(f"--pg-url must be a postgresql:// URL, got {admin_url!r}")
        if (parts.hostname or "localhost") not in LOOPBACK_HOSTS:
            raise SystemExit(
                f"--pg-url host {parts.hostname!r} is not loopback; the benchmark only runs "
                "against a local server (127.0.0.1, localhost or ::1)"
            )
        self.admin_url = admin_url
        self.prefix = f"conveyor_bench_{os.getpid()}_"
        self.count = 0

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)

    def version(self) -> str:
        """``server_version`` of the server."""
        with self._admin() as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])

    def url_for(self, dbname: str) -> str:
        """``--pg-url`` pointed at ``dbname``."""
        parts = urlsplit(self.admin_url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, ""))

    @contextlib.contextmanager
    def fresh(self, label: str) -> Iterator[str]:
        """CREATE DATABASE, yield its URL, then DROP it WITH (FORCE)."""
        self.count += 1
        dbname = f"{self.prefix}{self.count}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        try:
            yield self.url_for(dbname)
        finally:
            self._drop(dbname)

    def _drop(self, dbname: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

    def cleanup(self) -> None:
        """Drop every database this run created that is still there."""
        with self._admin() as conn:
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s",
                (self.prefix.replace("_", r"\_") + "%",),
            ).fetchall()
        for (dbname,) in rows:
            self._drop(dbname)


# -- helpers ------------------------------------------------------------------------------------


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only results)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, worker: subprocess.Popen[bytes] | None
) -> None:
    """Poll ``check`` until true; raise :class:`BenchError` on timeout or if the worker died."""
    deadline = time.monotonic() + timeout
    while not check():
        if worker is not None and worker.poll() is not None:
            if check():
                return
            raise BenchError(f"the worker exited with code {worker.returncode} before {what}")
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL)


def count_state(app: Conveyor, state: JobState) -> int:
    """How many jobs are in ``state``."""
    return app.store.count_jobs(JobFilter(states=(state,)))


def succeeded_jobs(app: Conveyor, expected: int) -> list[Job]:
    """Every succeeded job; raise unless there are exactly ``expected`` and no other."""
    jobs = app.store.list_jobs(JobFilter(states=(JobState.SUCCEEDED,)))
    total = app.store.count_jobs(JobFilter())
    if len(jobs) != expected or total != expected:
        counts = {str(s): count_state(app, s) for s in JobState}
        raise BenchError(f"expected {expected} succeeded jobs, store holds {counts}")
    return jobs


def bench_job(app: Conveyor, name: str = benchapp.ASYNC_JOB) -> JobDefinition[Any, Any]:
    """The no-op job ``name`` on ``app``, with the store opened (and migrated) already."""
    app.store.migrate()
    return app.get(name)


@contextlib.contextmanager
def running_worker(
    url: str, settings: Settings, *, burst: bool, label: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``run_worker("benchapp:app", ...)`` in a subprocess; stopped (drained) on exit.

    The subprocess leads its own process group, so a stuck worker is killed as a group and a
    terminal Ctrl-C reaches only the benchmark, which then stops the worker itself.
    """
    config = {
        "processes": settings.processes,
        "concurrency": settings.concurrency,
        "burst": burst,
    }
    env = dict(os.environ)
    env["CONVEYOR_URL"] = url
    env["CONVEYOR_LOG_LEVEL"] = "WARNING"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p)
    log_path = settings.logs / f"worker-{label}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER_MAIN, "benchapp:app", json.dumps(config)],
            env=env,
            cwd=HERE,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    except BaseException:
        tail = log_path.read_text(errors="replace")[-2000:].strip()
        if tail:
            progress(f"worker log ({log_path}), last lines:\n{tail}")
        raise
    finally:
        stop_worker(proc)


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the supervisor (it drains its processes); SIGKILL the group if that hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            progress(f"worker {proc.pid} did not stop in 20s; killing its process group")
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of our own worker group, if any
    proc.wait(timeout=10)


# -- the measurements ---------------------------------------------------------------------------


def measure_single(url: str, settings: Settings) -> list[Sample]:
    """``job.enqueue(i=...)`` N times from one process: one transaction per job."""
    app = benchapp.build(url)
    try:
        job = bench_job(app)
        for i in range(WARM_UP):
            job.enqueue(i=i)
        n = settings.sizes.single
        meter = CpuMeter()
        start = time.perf_counter()
        for i in range(n):
            job.enqueue(i=i)
        seconds = time.perf_counter() - start
        cpu = meter.read(n)
    finally:
        app.close()
    return [Sample("enqueue_single", n / seconds, n, {"seconds": round(seconds, 4)} | cpu)]


def _producer(url: str, n: int, barrier: Any, results: Any) -> None:
    """A producer process of :func:`measure_single_2p`: warm up, wait for the start, enqueue."""
    try:
        app = benchapp.build(url)
        job = bench_job(app)
        for i in range(WARM_UP):
            job.enqueue(i=i)
        barrier.wait(timeout=60)
        start = time.monotonic()  # CLOCK_MONOTONIC is shared by every process on Linux
        for i in range(n):
            job.enqueue(i=i)
        results.put(("ok", start, time.monotonic()))
        app.close()
    except BaseException:
        results.put(("error", traceback.format_exc(), 0.0))


def measure_single_2p(url: str, settings: Settings) -> list[Sample]:
    """Two producer processes enqueueing one by one at once; total jobs over the joint span."""
    producers = 2
    each = settings.sizes.single_2p_each
    app = benchapp.build(url)
    bench_job(app)  # migrate once, up front
    app.close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(producers + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_producer, args=(url, each, barrier, results), daemon=True)
        for _ in range(producers)
    ]
    for proc in procs:
        proc.start()
    meter = CpuMeter()
    try:
        barrier.wait(timeout=60)
        spans = [results.get(timeout=settings.timeout) for _ in procs]
        for proc in procs:
            proc.join(timeout=10)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
    errors = [s[1] for s in spans if s[0] != "ok"]
    if errors:
        raise BenchError(f"a producer failed:\n{errors[0]}")
    seconds = max(s[2] for s in spans) - min(s[1] for s in spans)
    total = producers * each
    per_producer = [round(each / (s[2] - s[1])) for s in spans]
    cpu = meter.read(total)  # producers were joined, so their CPU (warm-up too) is counted
    return [
        Sample(
            "enqueue_single_2p",
            total / seconds,
            total,
            {"seconds": round(seconds, 4), "producers": producers,
             "per_producer_jobs_s": per_producer} | cpu,
        )
    ]


def measure_bulk(url: str, settings: Settings, batch: int) -> list[Sample]:
    """``job.enqueue_many([...])`` with ``batch`` jobs per call (one transaction per call)."""
    app = benchapp.build(url)
    try:
        job = bench_job(app)
        job.enqueue_many([{"i": i} for i in range(WARM_UP)])
        calls = [{"i": i} for i in range(batch)]
        batches = max(1, settings.sizes.bulk_total // batch)
        meter = CpuMeter()
        start = time.perf_counter()
        for _ in range(batches):
            job.enqueue_many(calls)
        seconds = time.perf_counter() - start
        cpu = meter.read(batches * batch)
    finally:
        app.close()
    n = batches * batch
    return [Sample(f"enqueue_bulk_{batch}", n / seconds, n,
                   {"seconds": round(seconds, 4), "batch": batch, "calls": batches} | cpu)]


def measure_processing(url: str, settings: Settings, kind: str) -> list[Sample]:
    """A burst worker works off N pre-enqueued no-op jobs; timed from the store's timestamps.

    ``wall``: from just before the worker subprocess starts (store clock) to the last job's
    ``finished_at``; it includes interpreter and worker start-up. ``active``: from the first
    ``started_at`` to the last ``finished_at``.
    """
    name = benchapp.ASYNC_JOB if kind == "async" else benchapp.SYNC_JOB
    n = settings.sizes.process
    app = benchapp.build(url)
    try:
        job = bench_job(app, name)
        for first in range(0, n, BULK_PREFILL):
            job.enqueue_many([{"i": i} for i in range(first, min(n, first + BULK_PREFILL))])
        store = app.store
        meter = CpuMeter()
        started = time.monotonic()
        t0 = store.now()
        with running_worker(url, settings, burst=True, label=f"process-{kind}") as worker:
            wait_until(
                lambda: count_state(app, JobState.SUCCEEDED) >= n,
                settings.timeout,
                f"{n} jobs to succeed",
                worker,
            )
            seen_done = time.monotonic() - started
            worker.wait(timeout=60)
            exited = time.monotonic() - started
            if worker.returncode != 0:
                raise BenchError(f"the burst worker exited with code {worker.returncode}")
        cpu = meter.read(n)  # the worker's processes included, start-up and shutdown too
        jobs = succeeded_jobs(app, n)
    finally:
        app.close()
    first_start = min(j.started_at or math.inf for j in jobs)
    last_finish = max(j.finished_at or 0.0 for j in jobs)
    wall = last_finish - t0
    active = last_finish - first_start
    common = {"job": name, "processes": settings.processes, "concurrency": settings.concurrency}
    return [
        Sample(
            f"process_{kind}_wall",
            n / wall,
            n,
            common
            | {
                "seconds": round(wall, 4),
                "startup_seconds": round(first_start - t0, 4),
                "seen_done_seconds": round(seen_done, 3),
                "worker_exit_seconds": round(exited, 3),
            }
            | cpu,
        ),
        Sample(f"process_{kind}_active", n / active, n, common | {"seconds": round(active, 4)}),
    ]


def measure_latency(url: str, settings: Settings) -> list[Sample]:
    """A running worker; one enqueue every 20 ms; latency = ``started_at - created_at``."""
    seconds = settings.sizes.latency_seconds
    n = max(1, round(seconds / LATENCY_INTERVAL))
    app = benchapp.build(url)
    try:
        job = bench_job(app)
        store = app.store
        with running_worker(url, settings, burst=False, label="latency") as worker:
            wait_until(
                lambda: len(store.live_workers(60.0)) >= settings.processes,
                60.0,
                "the worker processes to register",
                worker,
            )
            time.sleep(0.5)  # let them reach their idle wait
            meter = CpuMeter(group=worker.pid)
            start = time.monotonic()
            for i in range(n):
                pause = start + i * LATENCY_INTERVAL - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                job.enqueue(i=i)
            produced = time.monotonic() - start
            cpu = meter.read()
            wait_until(
                lambda: count_state(app, JobState.SUCCEEDED) >= n,
                settings.timeout,
                f"{n} jobs to succeed",
                worker,
            )
        jobs = succeeded_jobs(app, n)
    finally:
        app.close()
    latencies = sorted(((j.started_at or math.inf) - j.created_at) * 1000.0 for j in jobs)
    extra = {
        "job": benchapp.ASYNC_JOB,
        "rate_jobs_s": round(n / produced, 1),
        "mean_ms": round(statistics.fmean(latencies), 3),
        "processes": settings.processes,
        "concurrency": settings.concurrency,
    } | {k: v for k, v in cpu.items() if k.startswith("host")}
    return [
        Sample("latency_p50", percentile(latencies, 0.50), n, extra),
        Sample("latency_p90", percentile(latencies, 0.90), n, extra),
        Sample("latency_p99", percentile(latencies, 0.99), n, extra),
        Sample("latency_max", latencies[-1], n, extra),
    ]


PRIORITY_JOB_MS = 50.0
PRIORITY_PROBES = 40
PRIORITY_INTERVAL = 0.1


def measure_priority(url: str, settings: Settings) -> list[Sample]:
    """High-priority jobs enqueued while a running worker has a large low-priority backlog.

    The backlog is ``sizes.backlog`` jobs of 50 ms each at priority 0; every 100 ms one job
    at priority 10 is enqueued; its wait is ``started_at - created_at``. A worker that claims
    only free slots starts each within about one job length; one that prefetched would make
    it wait behind what it already took.
    """
    app = benchapp.build(url)
    try:
        job = bench_job(app, benchapp.WORK_JOB)
        store = app.store
        for start in range(0, settings.sizes.backlog, 10_000):
            count = min(10_000, settings.sizes.backlog - start)
            job.enqueue_many([{"ms": PRIORITY_JOB_MS}] * count, priority=0)
        with running_worker(url, settings, burst=False, label="priority") as worker:
            wait_until(
                lambda: len(store.live_workers(60.0)) >= settings.processes,
                60.0,
                "the worker processes to register",
                worker,
            )
            time.sleep(1.0)  # let the backlog fill every slot
            probes = []
            for _ in range(PRIORITY_PROBES):
                probes.append(job.enqueue(ms=0.0, priority=10).id)
                time.sleep(PRIORITY_INTERVAL)
            wait_until(
                lambda: all(
                    j.state is JobState.SUCCEEDED for j in store.get_jobs(probes)
                ),
                settings.timeout,
                f"{PRIORITY_PROBES} high-priority jobs to succeed",
                worker,
            )
            done = store.get_jobs(probes)
            backlog_left = count_state(app, JobState.QUEUED)
    finally:
        app.close()
    waits = sorted(((j.started_at or math.inf) - j.created_at) * 1000.0 for j in done)
    extra = {
        "backlog": settings.sizes.backlog,
        "job_ms": PRIORITY_JOB_MS,
        "slots": settings.processes * settings.concurrency,
        "backlog_left_at_end": backlog_left,
        "max_ms": round(waits[-1], 3),
    }
    return [
        Sample("priority_p50", percentile(waits, 0.50), len(waits), extra),
        Sample("priority_p99", percentile(waits, 0.99), len(waits), extra),
    ]


FAIR_JOB_MS = 20.0
FAIR_SMALL = 10
FAIR_TENANTS = 20
"""How many jobs the small tenant enqueues into the flood of the fairness measurement."""


def fair_flood_size(settings: Settings) -> int:
    """The flooding tenant's backlog: 10,000 with ``--quick``, 50,000 otherwise."""
    return 10_000 if settings.sizes is QUICK else 50_000


def _waits_ms(jobs: Sequence[Job]) -> list[float]:
    """``started_at - created_at`` of each job, in ms, ascending."""
    return sorted(((j.started_at or math.inf) - j.created_at) * 1000.0 for j in jobs)


def measure_fairness(url: str, settings: Settings) -> list[Sample]:
    """Fair claims: their cost without tenants, and a small tenant's wait behind a flood.

    (a) A burst worker works off N no-op jobs enqueued without a tenant (today's claim
    conditions): jobs/s from the first ``started_at`` to the last ``finished_at``.
    (b) A running worker works a flood of 20 ms jobs of tenant ``a`` (``--quick``: 10,000;
    full: 50,000); once every slot is busy, 10 jobs of tenant ``b`` are enqueued. Their wait
    (``started_at - created_at``) is reported, p50 and p99, beside the flood's own wait.
    """
    n = settings.sizes.process
    flood_size = fair_flood_size(settings)
    app = benchapp.build(url)
    try:
        noop = bench_job(app, benchapp.ASYNC_JOB)
        for first in range(0, n, BULK_PREFILL):
            noop.enqueue_many([{"i": i} for i in range(first, min(n, first + BULK_PREFILL))])
        with running_worker(url, settings, burst=True, label="fair-plain") as worker:
            wait_until(lambda: count_state(app, JobState.SUCCEEDED) >= n, settings.timeout,
                       f"{n} jobs to succeed", worker)
        plain = succeeded_jobs(app, n)
        active = _span(plain)
        # (a2) The same no-ops spread over FAIR_TENANTS tenants: every claim takes turns.
        spread: list[int] = []
        for t in range(FAIR_TENANTS):
            calls = [{"i": i} for i in range(t, n, FAIR_TENANTS)]
            spread += [h.id for h in noop.enqueue_many(calls, tenant=f"t{t}")]
        with running_worker(url, settings, burst=True, label="fair-tenants") as worker:
            wait_until(lambda: count_state(app, JobState.SUCCEEDED) >= 2 * n, settings.timeout,
                       f"{n} jobs of {FAIR_TENANTS} tenants to succeed", worker)
        tenants_active = _span(
            [j for i in range(0, n, 10_000) for j in app.store.get_jobs(spread[i:i + 10_000])]
        )
        work = app.get(benchapp.WORK_JOB)
        store = app.store
        flood: list[int] = []
        for start in range(0, flood_size, 10_000):
            count = min(10_000, flood_size - start)
            flood += [h.id for h in work.enqueue_many([{"ms": FAIR_JOB_MS}] * count, tenant="a")]
        with running_worker(url, settings, burst=False, label="fair-flood") as worker:
            wait_until(lambda: len(store.live_workers(60.0)) >= settings.processes, 60.0,
                       "the worker processes to register", worker)
            time.sleep(1.0)  # let the flood fill every slot
            small = [h.id for h in work.enqueue_many([{"ms": FAIR_JOB_MS}] * FAIR_SMALL,
                                                      tenant="b")]
            wait_until(
                lambda: all(j.state is JobState.SUCCEEDED for j in store.get_jobs(small)),
                settings.timeout, f"{FAIR_SMALL} jobs of tenant b to succeed", worker)
            flood_left = count_state(app, JobState.QUEUED)
            wait_until(lambda: count_state(app, JobState.SUCCEEDED)
                       >= 2 * n + flood_size + FAIR_SMALL,
                       settings.timeout, "the flood to succeed", worker)
        small_waits = _waits_ms(store.get_jobs(small))
        flood_waits = _waits_ms(
            [j for i in range(0, len(flood), 10_000) for j in store.get_jobs(flood[i:i + 10_000])]
        )
    finally:
        app.close()
    extra = {
        "no_tenant_jobs": n,
        "flood": flood_size,
        "job_ms": FAIR_JOB_MS,
        "slots": settings.processes * settings.concurrency,
        "flood_left_when_b_done": flood_left,
        "small_max_ms": round(small_waits[-1], 3),
    }
    return [
        Sample("fair_plain_active", n / active, n, extra | {"seconds": round(active, 4)}),
        Sample("fair_tenants_active", n / tenants_active, n,
               extra | {"seconds": round(tenants_active, 4)}),
        Sample("fair_ratio", 100.0 * active / tenants_active, n, extra),
        Sample("fair_small_p50", percentile(small_waits, 0.50), FAIR_SMALL, extra),
        Sample("fair_small_p99", percentile(small_waits, 0.99), FAIR_SMALL, extra),
        Sample("fair_flood_p50", percentile(flood_waits, 0.50), flood_size, extra),
        Sample("fair_flood_p99", percentile(flood_waits, 0.99), flood_size, extra),
    ]


def _span(jobs: Sequence[Job]) -> float:
    """Seconds from the first ``started_at`` to the last ``finished_at`` of ``jobs``."""
    return max(j.finished_at or 0.0 for j in jobs) - min(j.started_at or math.inf for j in jobs)


def _active_rate(app: Conveyor, name: str, n: int) -> tuple[float, float]:
    """(jobs/s, seconds) from the first ``started_at`` to the last ``finished_at`` of ``name``."""
    jobs = app.store.list_jobs(JobFilter(name=name, states=(JobState.SUCCEEDED,)))
    if len(jobs) != n:
        raise BenchError(f"expected {n} succeeded {name} jobs, found {len(jobs)}")
    active = _span(jobs)
    return n / active, active


def measure_limits(url: str, settings: Settings) -> list[Sample]:
    """What a concurrency limit costs when it never binds: N plain no-ops, then N limited ones.

    Both sets run in one measurement on the same database, each worked off by a burst worker;
    jobs/s is from the first ``started_at`` to the last ``finished_at`` of each set. The
    limited job has ``Concurrency(10_000)`` keyed per job type, so every claim takes the
    limited pass (candidates, advisory locks, counts) and the plain claim after it.
    """
    n = settings.sizes.process
    app = benchapp.build(url)
    try:
        rates = {}
        for label, name in (("plain", benchapp.ASYNC_JOB), ("limited", benchapp.LIMITED_JOB)):
            job = bench_job(app, name)
            for first in range(0, n, BULK_PREFILL):
                job.enqueue_many([{"i": i} for i in range(first, min(n, first + BULK_PREFILL))])
            with running_worker(url, settings, burst=True, label=f"limits-{label}") as worker:
                wait_until(lambda: count_state(app, JobState.SUCCEEDED) >= len(rates) * n + n,
                           settings.timeout, f"{n} {label} jobs to succeed", worker)
            rates[label] = _active_rate(app, name, n)
    finally:
        app.close()
    extra = {"processes": settings.processes, "concurrency": settings.concurrency,
             "plain_seconds": round(rates["plain"][1], 4),
             "limited_seconds": round(rates["limited"][1], 4)}
    return [
        Sample("limit_plain_active", rates["plain"][0], n, extra),
        Sample("limit_limited_active", rates["limited"][0], n, extra),
        Sample("limit_ratio", 100.0 * rates["limited"][0] / rates["plain"][0], n, extra),
    ]


Measure = Callable[[str, Settings], list[Sample]]
MEASUREMENTS: dict[str, tuple[Measure, tuple[str, ...]]] = {
    "single": (measure_single, ("enqueue_single",)),
    "single2": (measure_single_2p, ("enqueue_single_2p",)),
    "bulk1000": (lambda u, s: measure_bulk(u, s, 1_000), ("enqueue_bulk_1000",)),
    "bulk10000": (lambda u, s: measure_bulk(u, s, 10_000), ("enqueue_bulk_10000",)),
    "process_async": (
        lambda u, s: measure_processing(u, s, "async"),
        ("process_async_wall", "process_async_active"),
    ),
    "process_sync": (
        lambda u, s: measure_processing(u, s, "sync"),
        ("process_sync_wall", "process_sync_active"),
    ),
    "latency": (measure_latency, ("latency_p50", "latency_p90", "latency_p99", "latency_max")),
    "priority": (measure_priority, ("priority_p50", "priority_p99")),
    "limits": (measure_limits, ("limit_plain_active", "limit_limited_active", "limit_ratio")),
    "fairness": (
        measure_fairness,
        ("fair_plain_active", "fair_tenants_active", "fair_ratio", "fair_small_p50",
         "fair_small_p99", "fair_flood_p50", "fair_flood_p99"),
    ),
}


# -- running, reporting ---------------------------------------------------------------------------


@dataclass
class Row:
    """The aggregate of one metric on one store, as printed (JSON line and table row)."""

    store: str
    metric: str
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float | None:
        """The median over runs, or None when no run succeeded."""
        values = [s.value for s in self.samples]
        return statistics.median(values) if values else None

    def target(self) -> float | None:
        """The issue's target for this metric on this store, if it sets one."""
        return TARGETS.get((self.store, self.metric))

    def meets(self) -> bool | None:
        """Whether the median meets the target (None without target or value)."""
        target, value = self.target(), self.median
        if target is None or value is None:
            return None
        return value >= target if METRICS[self.metric].higher_is_better else value <= target

    def other_cpu(self) -> str:
        """Worst share of the CPUs other processes kept busy during this row's runs."""
        shares = [s.extra["host_other_busy"] for s in self.samples if "host_other_busy" in s.extra]
        return f"{max(shares):.0%}" if shares else ""

    def as_json(self) -> dict[str, Any]:
        """The JSON line for this row."""
        metric = METRICS[self.metric]
        values = [s.value for s in self.samples]
        line: dict[str, Any] = {
            "store": self.store,
            "metric": self.metric,
            "value": None if self.median is None else round(self.median, 3),
            "unit": metric.unit,
            "n": self.samples[0].n if self.samples else None,
            "runs": len(values),
            "min": round(min(values), 3) if values else None,
            "max": round(max(values), 3) if values else None,
            "values": [round(v, 3) for v in values],
            "label": metric.label,
        }
        if self.target() is not None:
            op = ">=" if metric.higher_is_better else "<="
            line["target"] = f"{op} {self.target():g}"
            line["meets_target"] = self.meets()
        if self.samples:
            line["runs_detail"] = [s.extra for s in self.samples]
        if self.error:
            line["error"] = self.error
        return line


def run_measurement(
    target: Target, name: str, settings: Settings, runs: int
) -> list[Row]:
    """Run one measurement ``runs`` times, each on a fresh database; one row per metric."""
    measure, metrics = MEASUREMENTS[name]
    rows = {m: Row(target.name, m) for m in metrics}
    for run in range(1, runs + 1):
        progress(f"{target.name}: {name} run {run}/{runs}")
        idle_before = wait_for_idle(settings.idle_wait)
        try:
            with target.fresh(name) as url:
                samples = measure(url, settings)
        except Exception as exc:  # report and go on with the next measurement
            message = f"{type(exc).__name__}: {exc}"
            progress(f"{target.name}: {name} run {run} failed: {message}")
            for row in rows.values():
                row.error = message
            break
        for sample in samples:
            if idle_before is not None:
                sample.extra["host_busy_before"] = round(idle_before, 3)
            rows[sample.metric].samples.append(sample)
        summary = ", ".join(f"{s.metric}={s.value:,.2f}" for s in samples)
        progress(f"{target.name}: {name} run {run}: {summary}")
    for row in rows.values():
        print(json.dumps(row.as_json()), flush=True)
    return list(rows.values())


def fmt(value: float | None, unit: str) -> str:
    """A value for the table."""
    if value is None:
        return "-"
    return f"{value:,.2f}" if unit == "ms" else f"{value:,.0f}"


def print_table(rows: list[Row]) -> None:
    """The human summary: medians, min/max, targets and verdicts."""
    header = ("store", "measurement", "median", "min", "max", "unit", "runs", "other CPU",
              "target", "")
    lines = [header]
    for row in rows:
        metric = METRICS[row.metric]
        values = [s.value for s in row.samples]
        target = row.target()
        op = ">=" if metric.higher_is_better else "<="
        verdict = {True: "meets", False: "MISSES", None: ""}[row.meets()]
        if row.error:
            verdict = "ERROR" + (" (partial)" if values else "")
        lines.append(
            (
                row.store,
                metric.label,
                fmt(row.median, metric.unit),
                fmt(min(values), metric.unit) if values else "-",
                fmt(max(values), metric.unit) if values else "-",
                metric.unit,
                str(len(values)),
                row.other_cpu(),
                f"{op} {fmt(target, metric.unit)}" if target is not None else "",
                verdict,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {2, 3, 4, 6, 7, 8}
    print()
    for index, line in enumerate(lines):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        print("  ".join(cells).rstrip())
        if index == 0:
            print("  ".join("-" * w for w in widths).rstrip())
    print(
        "\nother CPU: the worst run's share of all CPUs busy outside the benchmark's own processes"
        " (neighbours; on PostgreSQL also the server). Far above 0% means a disturbed run."
    )
    errors = [r for r in rows if r.error]
    for row in errors:
        print(f"error: {row.store} {row.metric}: {row.error}")


def git_revision() -> str:
    """The checked-out commit of the repository, if any."""
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )
    except OSError:
        return "unknown"
    revision = out.stdout.strip() or "unknown"
    dirty = subprocess.run(
        ["git", "-C", str(HERE.parent), "status", "--porcelain", "--", "conveyor"],
        capture_output=True, text=True, timeout=5, check=False,
    ).stdout.strip()
    return f"{revision}+uncommitted changes in conveyor/" if dirty else revision


def print_header(argv: list[str], targets: list[Target], settings: Settings, runs: int) -> None:
    """Command line and machine facts, as ``#`` lines."""
    versions = {t.name: t.version() for t in targets}
    try:
        import psycopg

        psycopg_version = psycopg.__version__
    except ImportError:
        psycopg_version = "not installed"
    print(f"# command: {shlex.join([sys.executable, sys.argv[0], *argv])}")
    print(
        f"# machine: {os.cpu_count()} CPUs, {platform.platform()}, "
        f"{platform.processor() or platform.machine()}"
    )
    print(
        f"# python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
        f"postgres {versions.get('postgres', 'not measured')}, psycopg {psycopg_version}, "
        f"conveyor git {git_revision()}"
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# load average before the run: {load}")
    print(
        f"# settings: runs={runs}, worker processes={settings.processes}, "
        f"concurrency={settings.concurrency}, sizes={settings.sizes}"
    )
    sys.stdout.flush()


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Benchmark Conveyor's stores: enqueue, processing and latency.",
    )
    parser.add_argument("--stores", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (default: both)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL,
                        help=f"admin URL of a loopback PostgreSQL (default {DEFAULT_PG_URL})")
    parser.add_argument("--runs", type=int, default=1,
                        help="repeat each measurement and report the median (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: a smoke run of well under a minute")
    parser.add_argument("--only", default=",".join(MEASUREMENTS),
                        help=f"comma-separated subset of: {', '.join(MEASUREMENTS)}")
    parser.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--concurrency", type=int, default=50,
                        help="jobs at once per worker process (default 50)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds one run may wait for its jobs (default 300; quick: 60)")
    parser.add_argument("--idle-wait", type=float, default=None,
                        help="before each run, wait up to this many seconds for the host to be "
                        f"under {IDLE_THRESHOLD * 100:.0f}%% busy (default 60; quick: 0)")
    parser.add_argument("--tmpdir", default=None,
                        help="where SQLite files go (default: the system temporary folder)")
    args = parser.parse_args(argv)
    args.stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    for store in args.stores:
        if store not in ("sqlite", "postgres"):
            parser.error(f"unknown store {store!r}; use sqlite and/or postgres")
    for name in args.only:
        if name not in MEASUREMENTS:
            parser.error(f"unknown measurement {name!r}; choose from {', '.join(MEASUREMENTS)}")
    if args.runs < 1:
        parser.error("--runs must be 1 or more")
    return args


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    """Run the selected measurements on the selected stores; print results; clean up."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # clean up on kill as on Ctrl-C
    logs = Path(tempfile.mkdtemp(prefix="conveyor-bench-logs-"))
    settings = Settings(
        sizes=QUICK if args.quick else FULL,
        processes=args.processes,
        concurrency=args.concurrency,
        timeout=args.timeout or (60.0 if args.quick else 300.0),
        logs=logs,
        idle_wait=args.idle_wait if args.idle_wait is not None else (0.0 if args.quick else 60.0),
    )
    targets: list[Target] = []
    rows: list[Row] = []
    code = 0
    started = time.monotonic()
    try:
        for store in args.stores:
            targets.append(
                SQLiteTarget(args.tmpdir) if store == "sqlite" else PostgresTarget(args.pg_url)
            )
        print_header(argv, targets, settings, args.runs)
        for target in targets:
            for name in args.only:
                rows += run_measurement(target, name, settings, args.runs)
        print_table(rows)
        print(f"\n# total time {time.monotonic() - started:.1f}s")
        if any(r.error for r in rows):
            code = 1
    except KeyboardInterrupt:
        progress("interrupted; cleaning up")
        if rows:
            print_table(rows)
        code = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for target in targets:
            try:
                target.cleanup()
            except Exception as exc:
                progress(f"cleanup of {target.name} failed: {exc}")
        if code == 1:
            progress(f"worker logs kept in {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
