"""Processing on PostgreSQL with a million queued jobs vs a small table, and an urgent job's
wait behind the backlog (issue 14, item 1): this checkout against a base revision, interleaved.

Run from the repository root::

    .venv/bin/python benchmarks/deep_postgres.py [--rows 1000000] [--small 20000] \\
        [--measure 15000] [--runs 3] [--base main] [--probes 100]
    .venv/bin/python benchmarks/deep_postgres.py --base '' --cases small,finished \\
        [--finished 5000000]
    .venv/bin/python benchmarks/deep_postgres.py --base '' \\
        --cases unheld,held,held-finished [--held-rows 100000]

Cases (``--cases``, default ``small,large``): ``small`` = ``--small`` queued jobs; ``large`` =
``--rows`` queued (and the urgent probe); ``finished`` = ``--small`` queued after
``--finished`` succeeded rows that retention keeps (issue 14, item 1's second table); ``unheld``
and ``held`` = ``--held-rows`` queued, all of them worked off, ``held`` while another session
keeps a REPEATABLE READ snapshot open, so vacuum can remove nothing (item 2's held-transaction
case); ``held-finished`` = ``held`` with the ``--finished`` rows in the table too, which shows
whether finished rows kept in the claims' table make the held case worse. Finished rows are
written first (lower ids) and only jobs above them are counted.

Per run and per side (``new`` = this checkout, ``old`` = ``--base`` exported with ``git
archive``), for each table size: a fresh database ``conveyor_deep_<pid>_<k>`` on
``DEEP_PG_URL`` (default the local server as ``postgres``), migrated by that side's code; the
jobs (``benchapp``'s async no-op) generated server-side and analyzed; then a worker of that side
(2 processes, concurrency 50, ``WorkerConfig`` defaults otherwise) runs until ``--measure``
jobs have succeeded. Throughput = succeeded jobs / (last ``finished_at`` - first
``started_at``), both written by the server. With the large table only, ``--probes`` jobs at
priority 10 (20 by default) are then inserted one at a time while the backlog is still there,
50 to 150 ms apart (uniformly random, so that they do not fall into step with the worker's
claim rounds); their wait is ``started_at - created_at``. Per run the p50, p90 and p99 of those
waits are kept; with 20 probes a run's p99 is nearly its maximum, so ``--probes 100`` or more
makes it mean something, and the summary also gives the percentiles of every run's probes
pooled. Sides and sizes alternate in every run; medians are printed at the end, with the ratio
large/small per side. Databases are dropped at the end, workers stopped by process group.

Also per run: CPU per succeeded job, of the worker (its process tree, start-up and shutdown
included, so compare sides rather than read it alone) and of the server (the backends
connected to the run's database, read from ``/proc`` when the server runs on this machine; -1
otherwise), both less sensitive to a loaded box than the throughput.

``--reuse`` loads each (side, case) table once into a template database,
``conveyor_deep_tpl_<digest>`` (the digest covers the side's PostgreSQL migrations and the
case's rows), keeps it after the run, and gives every run a copy (``CREATE DATABASE ...
TEMPLATE``, seconds instead of the minutes 5,000,000 rows take to generate). A later run with
the same migrations and sizes reuses it; drop them with ``--drop-templates``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import benchapp  # noqa: E402

WORKER = (
    "import sys; from conveyor.worker import WorkerConfig, run_worker; "
    "sys.exit(run_worker('benchapp:app', WorkerConfig(processes=2, concurrency=50)))"
)
MIGRATE = "import sys; from conveyor.store import open_store; open_store(sys.argv[1]).close()"

LOAD = """
INSERT INTO conveyor_jobs (queue, name, args, state, priority, max_attempts, run_at, created_at)
SELECT %(queue)s, %(name)s, jsonb_build_object('i', g), 'queued', 0, 4,
       now() - make_interval(secs => 3600) + make_interval(secs => g / 1000.0), now()
FROM generate_series(1, %(rows)s) AS g
"""

FINISHED = """
INSERT INTO conveyor_jobs (
    queue, name, args, state, priority, max_attempts, attempt, run_at, created_at, started_at,
    finished_at
)
SELECT %(queue)s, %(name)s, jsonb_build_object('i', g), 'succeeded', 0, 4, 1, t, t, t,
       t + interval '5 milliseconds'
FROM (SELECT g, now() - make_interval(secs => 86400.0 * g / %(rows)s) AS t
      FROM generate_series(1, %(rows)s) AS g) AS s
"""

PROBE = """
INSERT INTO conveyor_jobs (queue, name, args, state, priority, max_attempts, run_at, created_at)
VALUES (%(queue)s, %(name)s, '{"i": -1}', 'queued', 10, 4, clock_timestamp(), clock_timestamp())
RETURNING id
"""

PROBES = 20
PROBE_INTERVAL = 0.1
"""The mean gap between two urgent probes; each gap is drawn from 0.5 to 1.5 times it."""


def percentile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of the sorted ``ordered``, nearest rank."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def log(message: str) -> None:
    """Progress on stderr; results go to stdout."""
    print(f"[deep {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Databases:
    """Fresh databases on the admin URL, each dropped WITH (FORCE) when done."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.count = 0

    def url(self, name: str) -> str:
        """The URL of database ``name`` on the admin URL's server."""
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    @contextlib.contextmanager
    def fresh(self, template: str | None = None) -> Iterator[str]:
        """CREATE DATABASE (a copy of ``template`` if given), yield its URL, DROP it."""
        self.count += 1
        name = f"conveyor_deep_{os.getpid()}_{self.count}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        try:
            yield self.url(name)
        finally:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


TEMPLATE_PREFIX = "conveyor_deep_tpl_"


def template_for(databases: Databases, side: Path | None, case: Case) -> str:
    """The loaded template database of ``side`` and ``case``, created on first use.

    Its name digests the side's PostgreSQL migrations and the generating SQL and sizes, so a
    schema change on either side gets a template of its own.
    """
    root = side if side is not None else ROOT
    digest = hashlib.sha256()
    for path in sorted((root / "conveyor/store/postgres/migrations").glob("*.sql")):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(f"{LOAD}{FINISHED}{case.rows}/{case.finished}".encode())
    name = TEMPLATE_PREFIX + digest.hexdigest()[:16]
    with psycopg.connect(databases.admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return name
    log(f"  loading template {name} (kept for later runs)")
    building = name + "_new"
    with psycopg.connect(databases.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{building}"')
    url = databases.url(building)
    prepare(side, url, case)
    with psycopg.connect(databases.admin_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    return name


def drop_templates(databases: Databases) -> None:
    """Drop every template ``--reuse`` kept."""
    with psycopg.connect(databases.admin_url, autocommit=True) as conn:
        names = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (TEMPLATE_PREFIX + "%",)
        ).fetchall()
        for (name,) in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"dropped {name}")


def side_env(side: Path | None, url: str) -> dict[str, str]:
    """The environment of a subprocess running ``side``'s Conveyor (None: this checkout)."""
    env = dict(os.environ)
    env["CONVEYOR_URL"] = url
    env["CONVEYOR_LOG_LEVEL"] = "WARNING"
    paths = [str(HERE)] + ([str(side)] if side is not None else [str(ROOT)])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


@contextlib.contextmanager
def worker(side: Path | None, url: str) -> Iterator[subprocess.Popen[bytes]]:
    """A worker of ``side`` in its own process group; SIGTERM, then SIGKILL the group."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env=side_env(side, url),
        cwd=HERE,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass(frozen=True)
class Case:
    """One table to work on: queued jobs, finished rows before them, a held snapshot."""

    rows: int
    measure: int
    probe: bool = False
    probes: int = PROBES
    finished: int = 0
    hold: bool = False


def prepare(side: Path | None, url: str, case: Case) -> None:
    """Migrate ``url`` with ``side``'s code, then write the case's finished rows and its
    queued jobs, and VACUUM ANALYZE."""
    subprocess.run(
        [sys.executable, "-c", MIGRATE, url], env=side_env(side, url), cwd=HERE, check=True
    )
    job = {"queue": benchapp.QUEUE, "name": benchapp.ASYNC_JOB}
    with psycopg.connect(url, autocommit=True) as conn:
        if case.finished:
            conn.execute(FINISHED, job | {"rows": case.finished})
        conn.execute(LOAD, job | {"rows": case.rows})
        conn.execute("VACUUM ANALYZE conveyor_jobs")


def boundary(url: str) -> int:
    """The last finished row's id: every job above it was loaded queued."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(max(id), 0) FROM conveyor_jobs WHERE state = 'succeeded'"
        ).fetchone()
    return int(row[0]) if row else 0


def server_cpu(conn: psycopg.Connection[Any]) -> float:
    """CPU seconds used so far by the other backends on ``conn``'s database (from /proc: a
    local server only; -1.0 when it cannot be read)."""
    pids = conn.execute(
        "SELECT pid FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchall()
    total = 0
    try:
        for (pid,) in pids:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
    except OSError:
        return -1.0
    return total / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """CPU seconds of every waited-for child process tree so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def held_snapshot(url: str, hold: bool) -> Iterator[None]:
    """With ``hold``, another session keeps a snapshot open (vacuum then removes nothing)."""
    if not hold:
        yield
        return
    with psycopg.connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        conn.execute("SELECT count(*) FROM conveyor_jobs WHERE id = 1")
        yield
        conn.rollback()


def time_probes(conn: psycopg.Connection[Any], case: Case) -> dict[str, Any]:
    """Insert ``case.probes`` urgent jobs one at a time, wait until each has started, and
    return the percentiles of their waits (from ``created_at``, and from their commit)."""
    result: dict[str, Any] = {}
    ids: list[int] = []
    committed: dict[int, float] = {}
    inserts: list[float] = []
    for _ in range(case.probes):
        sent = time.time()
        found = conn.execute(
            PROBE, {"queue": benchapp.QUEUE, "name": benchapp.ASYNC_JOB}
        ).fetchone()
        # Autocommit: the job is visible now. The server is on this machine (the CPU
        # figures assume it too), so its clock and this one are the same.
        visible = time.time()
        inserts.append((visible - sent) * 1000.0)
        assert found is not None
        ids.append(int(found[0]))
        committed[int(found[0])] = visible
        time.sleep(PROBE_INTERVAL * random.uniform(0.5, 1.5))
    deadline = time.monotonic() + 60
    while True:
        waits = conn.execute(
            "SELECT id, extract(epoch FROM started_at - created_at) * 1000.0,"
            " extract(epoch FROM started_at)::float8"
            " FROM conveyor_jobs WHERE id = ANY(%s) AND started_at IS NOT NULL",
            (ids,),
        ).fetchall()
        if len(waits) == len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    ordered = sorted(float(w[1]) for w in waits)
    result["urgent_p50_ms"] = percentile(ordered, 0.5)
    result["urgent_p90_ms"] = percentile(ordered, 0.9)
    result["urgent_p99_ms"] = percentile(ordered, 0.99)
    result["urgent_max_ms"] = ordered[-1]
    result["urgent_started"] = len(ordered)
    result["urgent_waits_ms"] = ordered
    # The part of the wait after the insert's commit returned (what a worker can
    # shorten); the rest is the enqueue's own commit. Negative when a claim took
    # the job before the commit's answer reached this process.
    after = sorted((float(w[2]) - committed[int(w[0])]) * 1000.0 for w in waits)
    result["after_commit_p50_ms"] = percentile(after, 0.5)
    result["after_commit_p99_ms"] = percentile(after, 0.99)
    result["after_commit_waits_ms"] = after
    result["probe_insert_p99_ms"] = percentile(sorted(inserts), 0.99)
    return result


def one(side: Path | None, url: str, case: Case, *, loaded: bool = False) -> dict[str, Any]:
    """Load the case's table (unless ``loaded``: a copy of its template) and work
    ``case.measure`` jobs; with ``probe``, time urgent jobs.

    Only jobs above the finished rows are counted, so those rows never count as work done.
    """
    if not loaded:
        prepare(side, url, case)
    first = boundary(url)
    measure, probe = case.measure, case.probe
    result: dict[str, Any] = {}
    cpu_before = children_cpu()
    with (
        psycopg.connect(url, autocommit=True) as conn,
        held_snapshot(url, case.hold),
        worker(side, url) as proc,
    ):

        def succeeded() -> int:
            row = conn.execute(
                "SELECT count(*) FROM conveyor_jobs WHERE id > %s AND state = 'succeeded'"
                " AND finished_at IS NOT NULL",
                (first,),
            ).fetchone()
            return int(row[0]) if row else 0

        deadline = time.monotonic() + 600
        while succeeded() < measure:
            if proc.poll() is not None:
                raise SystemExit(f"the worker exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise SystemExit("timed out waiting for the jobs")
            time.sleep(0.2)
        backends = server_cpu(conn)
        row = conn.execute(
            "SELECT count(*), extract(epoch FROM max(finished_at) - min(started_at))"
            " FROM conveyor_jobs WHERE id > %s AND state = 'succeeded'"
            " AND finished_at IS NOT NULL",
            (first,),
        ).fetchone()
        assert row is not None
        done = int(row[0])
        result["jobs_per_s"] = done / float(row[1])
        result["server_cpu_us"] = backends / done * 1e6 if backends >= 0 else -1.0
        dead = conn.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'conveyor_jobs'"
        ).fetchone()
        result["dead_tuples"] = int(dead[0]) if dead else -1
        if probe:
            result.update(time_probes(conn, case))
    result["worker_cpu_us"] = (children_cpu() - cpu_before) / done * 1e6
    return result


def export(rev: str, into: Path) -> Path:
    """``rev``'s tree in ``into`` (``git archive``), for the old side's subprocesses."""
    archive = subprocess.run(
        ["git", "archive", rev], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def summarize(
    name: str,
    wanted: list[str],
    cases: dict[str, Case],
    results: dict[tuple[str, str], list[dict[str, Any]]],
) -> dict[str, Any]:
    """One side's medians over its runs, its ratios, and each run's figures."""
    summary: dict[str, Any] = {"side": name}
    for size in wanted:
        per_size = results[(name, size)]
        summary[f"{size}_jobs_per_s"] = round(
            statistics.median(r["jobs_per_s"] for r in per_size))
        summary[f"{size}_dead_tuples"] = statistics.median(r["dead_tuples"] for r in per_size)
        for cpu in ("server_cpu_us", "worker_cpu_us"):
            summary[f"{size}_{cpu}"] = round(statistics.median(r[cpu] for r in per_size))
        if cases[size].probe:
            for q in ("p50", "p90", "p99"):
                summary[f"urgent_{q}_ms"] = round(
                    statistics.median(r[f"urgent_{q}_ms"] for r in per_size), 2)
            pooled = sorted(w for r in per_size for w in r["urgent_waits_ms"])
            for q, at in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
                summary[f"urgent_pooled_{q}_ms"] = round(percentile(pooled, at), 2)
            summary["urgent_pooled_n"] = len(pooled)
            after = sorted(w for r in per_size for w in r["after_commit_waits_ms"])
            for q, at in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
                summary[f"after_commit_pooled_{q}_ms"] = round(percentile(after, at), 2)
    for size, base in (("large", "small"), ("finished", "small"), ("held", "unheld"),
                       ("held-finished", "held")):
        if size in wanted and base in wanted:
            per_run = [a["jobs_per_s"] / b["jobs_per_s"] for a, b in
                       zip(results[(name, size)], results[(name, base)], strict=True)]
            summary[f"{size}_over_{base}"] = round(statistics.median(per_run), 3)
    summary["runs"] = {
        k[1]: [{f: x for f, x in r.items() if not f.endswith("waits_ms")} for r in v]
        for k, v in results.items() if k[0] == name
    }
    return summary


def main() -> None:
    """Parse the arguments, run the interleaved measurements and print medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--measure", type=int, default=15_000)
    parser.add_argument("--probes", type=int, default=PROBES,
                        help="urgent jobs timed per large-table run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--base", default="main", help="revision for the old side ('' for none)")
    parser.add_argument("--cases", default="small,large", help=f"of {', '.join(CASES)}")
    parser.add_argument("--finished", type=int, default=5_000_000)
    parser.add_argument("--held-rows", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true",
                        help="load each (side, case) once into a kept template database")
    parser.add_argument("--drop-templates", action="store_true",
                        help="drop the templates --reuse kept, and exit")
    args = parser.parse_args()
    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(wanted) - set(CASES))
    if unknown or not wanted:
        parser.error(f"--cases: unknown {unknown or 'nothing'}; choose from {', '.join(CASES)}")
    cases = {
        "small": Case(args.small, args.measure),
        "large": Case(args.rows, args.measure, probe=True, probes=args.probes),
        "finished": Case(args.small, args.measure, finished=args.finished),
        "unheld": Case(args.held_rows, args.held_rows),
        "held": Case(args.held_rows, args.held_rows, hold=True),
        "held-finished": Case(args.held_rows, args.held_rows, finished=args.finished, hold=True),
    }
    admin = os.environ.get("DEEP_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    databases = Databases(admin)
    if args.drop_templates:
        drop_templates(databases)
        return
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sides: list[tuple[str, Path | None]] = [("new", None)]
        if args.base:
            sides.append(("old", export(args.base, Path(tmp))))
        for run in range(args.runs):
            order = sides if run % 2 == 0 else sides[::-1]
            for name, side in order:
                for size in wanted:
                    case = cases[size]
                    template = template_for(databases, side, case) if args.reuse else None
                    with databases.fresh(template) as url:
                        log(f"run {run + 1}: {name} side, {size}: {case}")
                        got = one(side, url, case, loaded=template is not None)
                        shown = {
                            k: round(v, 2) for k, v in got.items() if not k.endswith("waits_ms")
                        }
                        log(f"  {json.dumps(shown)}")
                        results.setdefault((name, size), []).append(got)
    print(f"# medians of {args.runs} interleaved runs; cases {wanted}: "
          f"{ {k: cases[k] for k in wanted} }; old = {args.base or '-'}")
    for name, _ in sides:
        print(json.dumps(summarize(name, wanted, cases, results)))


CASES = ("small", "large", "finished", "unheld", "held", "held-finished")

if __name__ == "__main__":
    main()
