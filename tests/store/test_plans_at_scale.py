"""Every hot statement reads the jobs table along an index, even with a large table (issue 14).

PostgreSQL only: a table of :data:`ROWS` jobs is generated server-side (``INSERT … SELECT
generate_series``, a few seconds), analyzed, and then the worker's, scheduler's, monitor's and
dashboard overview's verbs run through a driver that first asks ``EXPLAIN (FORMAT JSON)`` for
each statement they send. A sequential scan of ``conveyor_jobs`` fails the test, and so does
JIT compilation (Conveyor's sessions start with ``jit=off``, whatever the server's setting).
A second table has long retention's shape (few distinct states, finished rows first), where a
plan can flip to a scan that the mixed table never shows. A third, twenty tenants' queued jobs
never analyzed (a new database, or a server without autovacuum), holds the claim's lock step
to the primary key, which statistics once talked the planner out of (decision 119); on it, a
completion finds its batch by primary key too, and a claim of one (queue, tenant) group never
starts its count of running jobs (decision 126). A fourth grows from empty under claims planned
while it was empty, as a new worker's are (decision 128).

On SQLite, ``EXPLAIN QUERY PLAN`` of the claim, ``next_due`` and the queue counts must not scan the
table either.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import pq

from conveyor import Conveyor
from conveyor.models import COUNT_CAP
from conveyor.schedules.scheduler import Scheduler
from conveyor.store.plan import Plan, Result
from conveyor.store.postgres import PostgresStore
from conveyor.store.postgres.claim_round import complete_and_claim_sql, look_and_claim_sql
from conveyor.store.postgres.generic_plan import GENERIC_SETTINGS, SET_GENERIC
from conveyor.store.postgres.planner_settings import INDEX_WALKS, restore_sql, set_sql
from conveyor.store.postgres.plans import is_single
from conveyor.store.postgres.sql import query
from conveyor.store.protocol import (
    ClaimParams,
    Completion,
    CompletionKind,
    HeartbeatParams,
    NewJob,
)
from conveyor.web.pages_overview import read_overview

ROWS = 150_000
"""Jobs in the generated table: enough that a scan costs far more than an index probe."""

QUEUES = ("emails", "reports", "images")
NAMES = ("send", "build", "resize", "noop")

# Spread by g % 100: 70 % ready (some high priority, some with a tenant), 8 % scheduled in the
# future, 1 % retrying later, 1 % limited, 15 % succeeded and 4 % dead over the last day, and
# one running job in a thousand (a tenth of them with a lapsed lease).
LOAD = """
INSERT INTO conveyor_jobs (
    queue, name, args, state, priority, max_attempts, run_at, created_at, started_at,
    finished_at, lease_until, worker_id, tenant, limit_key, limit_max, attempt, token
)
SELECT (%(queues)s::text[])[1 + g %% 3],
       (%(names)s::text[])[1 + g %% 4],
       '{}'::jsonb,
       CASE WHEN g %% 1000 = 1 THEN 'running'
            WHEN g %% 100 < 70 OR g %% 100 = 99 THEN 'queued'
            WHEN g %% 100 < 78 THEN 'scheduled'
            WHEN g %% 100 = 78 THEN 'retrying'
            WHEN g %% 100 < 95 THEN 'succeeded'
            ELSE 'dead' END,
       CASE WHEN g %% 50 = 0 THEN 10 ELSE 0 END,
       3,
       CASE WHEN g %% 100 BETWEEN 70 AND 78 THEN now() + make_interval(secs => g)
            ELSE now() - make_interval(secs => g %% 86400) END,
       now() - interval '1 day',
       CASE WHEN g %% 1000 = 1 OR g %% 100 >= 79 THEN now() - interval '1 minute' END,
       CASE WHEN g %% 1000 <> 1 AND g %% 100 >= 79
            THEN now() - make_interval(secs => g %% 86400) END,
       CASE WHEN g %% 1000 = 1 THEN now() + make_interval(secs => (g %% 10000) - 1000) END,
       CASE WHEN g %% 1000 = 1 THEN 'w' || (g %% 7) END,
       CASE WHEN g %% 100 = 5 THEN 't' || (g %% 20) END,
       CASE WHEN g %% 100 = 99 THEN 'k' || (g %% 5) END,
       CASE WHEN g %% 100 = 99 THEN 2 END,
       CASE WHEN g %% 1000 = 1 OR g %% 100 >= 78 THEN 1 ELSE 0 END,
       CASE WHEN g %% 1000 = 1 THEN 1 ELSE 0 END
FROM generate_series(1, %(rows)s) AS g
"""

ATTEMPTS = """
INSERT INTO conveyor_attempts (job_id, attempt, token, worker_id, started_at, finished_at, outcome)
SELECT id, 1, 1, 'w1', finished_at - interval '1 second', finished_at,
       CASE WHEN state = 'dead' THEN 'dead' ELSE 'succeeded' END
FROM conveyor_jobs WHERE state IN ('succeeded', 'dead')
"""


def as_prepared(sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """``sql`` with its ``%(name)s`` placeholders numbered for ``PREPARE``, and the values in
    that order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    text = re.sub(r"%\((\w+)\)s", number, sql).replace("%%", "%")
    return text, [params[n] for n in names]


def explain_execute(
    conn: psycopg.Connection[Any], name: str, values: list[Any], options: str = "FORMAT JSON"
) -> Any:
    """``EXPLAIN (options) EXECUTE name(values)``'s row. The values are literals here:
    EXECUTE's arguments take the prepared statement's types."""
    return psycopg.ClientCursor(conn).execute(
        f"EXPLAIN ({options}) EXECUTE {name}({', '.join(['%s'] * len(values))})", values
    ).fetchone()


def seq_scans(node: dict[str, Any]) -> list[str]:
    """The jobs-table sequential scans in an EXPLAIN (FORMAT JSON) plan node and below."""
    found = []
    if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") == "conveyor_jobs":
        found.append(f"Seq Scan on conveyor_jobs (filter {node.get('Filter', '-')})")
    for child in node.get("Plans", ()):
        found.extend(seq_scans(child))
    return found


class Explaining:
    """Runs a store's plans like ``PostgresStore.run``, asking EXPLAIN for each statement first."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.problems: list[str] = []
        self.explained: list[str] = []
        self.generic: list[str] = []
        """The verbs whose statements were explained as generic plans."""
        self.verb = ""

    def run(self, plan: Plan[Any], where: str, *, pipelined: bool = False) -> Any:
        # ``pipelined`` only changes how BEGIN travels; the statements are the same.
        with self.store.pool.connection() as conn:
            if is_single(plan):
                return self._drive(conn, plan)
            with conn.transaction():
                return self._drive(conn, plan)

    def _drive(self, conn: psycopg.Connection[Any], plan: Plan[Any]) -> Any:
        try:
            statement = next(plan)
            with conn.cursor() as cur:
                while True:
                    params = statement.params
                    many = None if statement.many is None else list(statement.many)
                    if many is not None:
                        params = many[0] if many else None
                    if statement.settings:  # as the drivers run it (decision 132)
                        assert conn.info.transaction_status != pq.TransactionStatus.IDLE
                        cur.execute(set_sql(statement.settings))
                    if statement.generic:
                        self._explain_generic(conn, statement.sql, statement.params)
                    else:
                        self._explain(cur, statement.sql, params)
                    if many is not None:
                        cur.executemany(statement.sql, many)
                        rows: list[Any] = []
                    else:
                        cur.execute(statement.sql, statement.params or None)
                        rows = cur.fetchall() if cur.description is not None else []
                    if statement.settings:
                        cur.execute(restore_sql(statement.settings))
                    statement = plan.send(Result(rows, cur.rowcount))
        except StopIteration as stop:
            return stop.value

    def _explain(self, cur: psycopg.Cursor[Any], sql: str, params: Any) -> None:
        code = [line.strip() for line in sql.splitlines()]
        code = [line for line in code if line and not line.startswith("--")]
        if not code or not code[0].upper().startswith(
            ("SELECT", "WITH", "UPDATE", "INSERT", "DELETE", "(")
        ):
            return
        cur.execute(f"EXPLAIN (FORMAT JSON) {sql}", params or None)
        (output,) = cur.fetchone()  # type: ignore[misc]
        self._judge(sql, output)

    def _explain_generic(
        self, conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]
    ) -> None:
        """The plan a statement marked ``generic`` runs with (decision 120): PREPAREd, and its
        generic plan explained (PostgreSQL 15 has no ``EXPLAIN (GENERIC_PLAN)``)."""
        text, values = as_prepared(sql, params)
        conn.execute(f"PREPARE conveyor_explained AS {text}")
        try:
            for name, value in GENERIC_SETTINGS:  # as the drivers run it
                conn.execute(f"SET {name} = {value}")
            found = explain_execute(conn, "conveyor_explained", values)
        finally:
            for name, _ in GENERIC_SETTINGS:
                conn.execute(f"RESET {name}")
            conn.execute("DEALLOCATE conveyor_explained")
        assert found is not None
        self.generic.append(self.verb)
        self._judge(sql, found[0])

    def _judge(self, sql: str, output: Any) -> None:
        code = [line.strip() for line in sql.splitlines()]
        code = [line for line in code if line and not line.startswith("--")]
        top = (output if isinstance(output, list) else json.loads(output))[0]
        first = " ".join(code)[:90]
        self.explained.append(f"{self.verb}: {first}")
        for scan in seq_scans(top["Plan"]):
            self.problems.append(f"{self.verb}: {scan} in: {first}")
        if "JIT" in top:
            self.problems.append(f"{self.verb}: JIT in: {first}")


@pytest.fixture
def big_store(fresh_postgres_url: Callable[[], str]) -> Iterator[PostgresStore]:
    """A migrated store on a fresh database holding :data:`ROWS` generated jobs, analyzed."""
    url = fresh_postgres_url()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(LOAD, {"queues": list(QUEUES), "names": list(NAMES), "rows": ROWS})
        conn.execute(ATTEMPTS)
        conn.execute("ANALYZE conveyor_jobs")
        conn.execute("ANALYZE conveyor_attempts")
    store = PostgresStore(url)
    yield store
    store.close()


def test_hot_statements_use_indexes_and_no_jit(big_store: PostgresStore) -> None:
    store = big_store
    explaining = Explaining(store)
    store.run = explaining.run  # type: ignore[method-assign]

    def verb(name: str) -> None:
        explaining.verb = name

    params = ClaimParams("w-test", QUEUES, NAMES, limit=10, lease_seconds=30)
    verb("claim_jobs")
    claimed = store.claim_jobs(params)
    assert len(claimed) == 10
    # The short-heads claim a store runs while its claims span several tenant groups.
    verb("claim_jobs_tenants")
    store.plans.several_groups = True
    assert len(store.claim_jobs(params)) == 10
    verb("claim_jobs (limited pass)")
    store.claim_jobs(ClaimParams("w-test", QUEUES, NAMES, 10, 30, limited_names=NAMES))
    verb("heartbeat")
    store.heartbeat(HeartbeatParams("w-test", tuple((c.id, c.token) for c in claimed), 30))
    done = [Completion(c.id, c.token, CompletionKind.SUCCEEDED, result_json="1") for c in claimed]
    verb("complete_jobs")
    store.complete_jobs(done[:5])
    verb("complete_and_claim")
    round_ = store.complete_and_claim(done[5:], params)
    # After a limited pass that took nothing, a round looks for limited jobs in its statement.
    store.pass_hint.after_pass(0)
    verb("complete_and_claim (look first)")
    store.complete_and_claim(
        [Completion(c.id, c.token, CompletionKind.SUCCEEDED) for c in round_.claimed],
        ClaimParams("w-test", QUEUES, NAMES, 10, 30, limited_names=NAMES),
    )
    verb("next_due_in")
    assert store.next_due_in(QUEUES, NAMES) == 0.0
    verb("next_due_in (nothing due)")
    store.next_due_in(("nothing-here",), NAMES)
    verb("rescue_expired")
    assert store.rescue_expired()
    verb("queue_depth")
    store.queue_depth("emails", 1000)
    verb("queue_stats")
    stats = store.queue_stats()
    assert [s.queue for s in stats] == sorted(QUEUES)
    assert all("queued" in s.at_least for s in stats)  # ~70,000 each: past the cap
    assert all(s.queued == COUNT_CAP and s.shown("queued") == "10,000+" for s in stats)
    assert all(s.waiting_names == tuple(sorted(NAMES)) for s in stats)
    verb("dashboard overview")
    overview = read_overview(store)
    assert len(overview["queues"]) == len(QUEUES)
    verb("window_counts")
    store.window_counts(store.now() - 3600)

    verb("scheduler round")
    _scheduler_rounds(store)

    with store.pool.connection() as conn:
        assert conn.execute("SHOW jit").fetchone() == ("off",)
    assert len(explaining.explained) >= 30, explaining.explained
    # The worker's claim statements run with generic plans: those are the plans checked.
    assert {
        "claim_jobs", "claim_jobs (limited pass)", "complete_and_claim",
        "complete_and_claim (look first)",
    } <= set(
        explaining.generic
    ), explaining.generic
    assert not explaining.problems, "\n".join(explaining.problems)


def _scheduler_rounds(store: PostgresStore) -> None:
    """A few rounds of a one-second schedule, on a clock moved by hand."""
    app = Conveyor(store.url)
    try:

        @app.job(name="tick")
        def tick(ctx: Any) -> None:
            """A scheduled no-op."""

        app.schedule("every_second", "tick", every="1s")
        clock = [store.now()]
        scheduler = Scheduler(app, store=store, now=lambda: clock[0])
        scheduler.sync()
        for _ in range(3):
            scheduler.run_round()
            clock[0] += 2.0
    finally:
        app.close()


FINISHED_ROWS = 60_000
"""Finished jobs in the retention-shaped table: enough that reading them all shows in a plan."""

# Issue 14's retention case in miniature: one queue, one job name, the finished jobs written
# first (the start of the heap) and a few hundred queued jobs after them. With so few distinct
# values a probe "the first job of this state, queue and name" is estimated to match half the
# table, so a sequential scan that stops at its first match looks cheaper than the index,
# and reads every finished row first (decision 117).
FINISHED_LOAD = """
INSERT INTO conveyor_jobs (
    queue, name, args, state, priority, max_attempts, attempt, run_at, created_at, started_at,
    finished_at
)
SELECT 'emails', 'send', '{}'::jsonb, 'succeeded', 0, 3, 1, t, t, t, t
FROM (SELECT now() - make_interval(secs => 86400.0 * g / %(rows)s) AS t
      FROM generate_series(1, %(rows)s) AS g) AS s
"""

QUEUED_LOAD = """
INSERT INTO conveyor_jobs (queue, name, args, state, priority, max_attempts, run_at, created_at)
SELECT 'emails', 'send', '{}'::jsonb, 'queued', 0, 3, now() - interval '1 minute', now()
FROM generate_series(1, 500)
"""


def test_hot_statements_use_indexes_behind_finished_rows(
    fresh_postgres_url: Callable[[], str],
) -> None:
    url = fresh_postgres_url()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FINISHED_LOAD, {"rows": FINISHED_ROWS})
        conn.execute(QUEUED_LOAD)
        conn.execute("ANALYZE conveyor_jobs")
    store = PostgresStore(url)
    try:
        explaining = Explaining(store)
        store.run = explaining.run  # type: ignore[method-assign]
        params = ClaimParams("w-test", ("emails",), ("send",), limit=10, lease_seconds=30)
        explaining.verb = "claim_jobs"
        claimed = store.claim_jobs(params)
        assert len(claimed) == 10
        done = [
            Completion(c.id, c.token, CompletionKind.SUCCEEDED, result_json="1") for c in claimed
        ]
        explaining.verb = "complete_and_claim"
        store.complete_and_claim(done, params)
        # The monitor's round reads these every few seconds.
        explaining.verb = "queue_stats"
        (stats,) = store.queue_stats()
        assert stats.waiting_names == ("send",)
        explaining.verb = "window_counts"
        store.window_counts(store.now() - 900)
        explaining.verb = "queue_load"
        store.queue_load(store.now() - 900)
        # Not the dashboard overview: its chart of the last 24 hours reads every job finished
        # in them, and here that is the whole table, so a sequential scan is the right plan.
        assert not explaining.problems, "\n".join(explaining.problems)
    finally:
        store.close()


SQLITE_ROWS = 50_000


def test_sqlite_claim_next_due_and_counts_use_indexes(tmp_path: Path) -> None:
    from conveyor.store.sqlite import SQLiteStore
    from conveyor.store.sqlite.connection import query

    path = tmp_path / "conveyor.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            "INSERT INTO conveyor_jobs (queue, name, args, state, priority, max_attempts, run_at,"
            " created_at) WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g"
            f" WHERE n < {SQLITE_ROWS}) SELECT 'q' || (n % 3), 'send', '{{}}', 'queued', 0, 3,"
            " n, 0 FROM g"
        )
        problems = []
        # Twice: without statistics (a young database with a sudden backlog, where the planner
        # goes by index shape alone) and after ANALYZE.
        for analyzed in (False, True):
            if analyzed:
                conn.execute("ANALYZE")
            for name in ("claim_jobs", "claim_heads", "claim_candidates", "next_due",
                         "queue_counts", "waiting_names"):
                sql = query(name)
                rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", _sqlite_params(sql)).fetchall()
                problems += [
                    f"{name} (analyzed={analyzed}): {r[3]}"
                    for r in rows
                    if r[3].startswith("SCAN conveyor_jobs") and "INDEX" not in r[3]
                ]
                if name == "claim_heads":
                    # The plain claim reads its first :limit jobs straight off the ready
                    # index, in claim order; a sort means it read every waiting job.
                    problems += [f"{name} (analyzed={analyzed}): {r[3]}"
                                 for r in rows if "TEMP B-TREE" in r[3]]
        assert not problems, "\n".join(problems)
    finally:
        conn.close()


def _sqlite_params(sql: str) -> dict[str, Any]:
    """Plausible values for every ``:name`` parameter of ``sql``."""
    import re

    values: dict[str, Any] = {}
    for name in re.findall(r"(?<!:):([a-z_]+)", sql):
        if name in ("queues", "names", "limited_names"):
            values[name] = json.dumps(["q0", "q1", "q2"] if name == "queues" else ["send"])
        elif name in ("worker_id",):
            values[name] = "w"
        elif name == "queue":
            values[name] = "q0"
        elif name == "now":
            values[name] = 10.0**12  # every generated job is due: the backlog case
        else:
            values[name] = 10
    return values


# Twenty tenants' queued jobs in one queue, in the order they were enqueued (round robin).
TENANTS_LOAD = """
INSERT INTO conveyor_jobs (queue, name, args, state, priority, max_attempts, run_at, created_at,
                           tenant)
SELECT 'emails', 'send', '{}'::jsonb, 'queued', 0, 3,
       now() - interval '1 hour' + make_interval(secs => g / 1000.0), now(), 't' || (g %% 20)
FROM generate_series(1, %(rows)s) AS g
"""


def database_from(
    fresh_postgres_url: Callable[[], str], name: str, template: str
) -> Iterator[str]:
    """A database ``name`` made from ``template`` on the tests' server, dropped afterwards."""
    server = urlsplit(fresh_postgres_url())
    admin = urlunsplit(server._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield urlunsplit(server._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def never_analyzed_url(
    fresh_postgres_url: Callable[[], str], postgres_template: str
) -> Iterator[str]:
    """A database copied from the migrated template, whose tables were never analyzed (a
    reused test database may keep an earlier test's statistics)."""
    yield from database_from(
        fresh_postgres_url, f"{postgres_template}_never_analyzed", postgres_template
    )


def cte_reads(node: dict[str, Any], cte: str, inside: bool = False) -> set[str]:
    """The indexes (and ``Seq Scan``) the plan's ``CTE <cte>`` reads the jobs table with."""
    inside = inside or node.get("Subplan Name") == f"CTE {cte}"
    found = set()
    if inside and "Index Name" in node:
        found.add(node["Index Name"])
    if inside and node.get("Node Type") == "Seq Scan":
        found.add("Seq Scan")
    for child in node.get("Plans", ()):
        found |= cte_reads(child, cte, inside)
    return found


def lock_step_reads(node: dict[str, Any]) -> set[str]:
    """How the claim's lock step (its ``chosen`` CTE) reads the jobs table."""
    return cte_reads(node, "chosen")


def test_claims_lock_by_primary_key_on_a_table_never_analyzed(never_analyzed_url: str) -> None:
    # Without statistics the planner took conveyor_jobs_ready_tenant to hold one row and, for
    # the lock step's join, scanned it whole once per candidate (decision 119).
    with psycopg.connect(never_analyzed_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE conveyor_jobs SET (autovacuum_enabled = off)")
        conn.execute(TENANTS_LOAD, {"rows": 20_000})
        assert conn.execute(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'conveyor_jobs'"
        ).fetchone() == (0,)
        params = {
            "queues": ["emails"],
            "names": ["send"],
            "limit": 50,
            "worker_id": "w-test",
            "lease_seconds": 30.0,
            "batch": "[]",
            "channel": "conveyor",
            "completing": [],
        }
        statements = {
            "claim_jobs": query("claim_jobs", "public"),
            "claim_jobs_tenants": query("claim_jobs_tenants", "public"),
            "complete_and_claim": complete_and_claim_sql("public", "claim_jobs_tenants"),
            "look_and_claim": look_and_claim_sql("public", "claim_jobs"),
        }
        for name, sql in statements.items():
            (output,) = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()  # type: ignore[misc]
            top = (output if isinstance(output, list) else json.loads(output))[0]
            assert lock_step_reads(top["Plan"]) == {"conveyor_jobs_pkey"}, name


def explained(
    conn: psycopg.Connection[Any], sql: str, params: dict[str, Any], *, analyze: bool = False
) -> dict[str, Any]:
    """The top plan node of ``EXPLAIN (FORMAT JSON)`` of ``sql`` (``analyze``: run, and its
    writes rolled back)."""
    conn.execute("BEGIN")
    try:
        (output,) = conn.execute(  # type: ignore[misc]
            f"EXPLAIN ({'ANALYZE, ' if analyze else ''}FORMAT JSON) {sql}", params
        ).fetchone()
    finally:
        conn.execute("ROLLBACK")
    return (output if isinstance(output, list) else json.loads(output))[0]["Plan"]  # type: ignore[no-any-return]


def running_scans(node: dict[str, Any]) -> list[int]:
    """Actual loops of every scan whose index condition is ``state = 'running'``."""
    conds = " ".join(str(node.get(key, "")) for key in ("Index Cond", "Recheck Cond"))
    found = [node["Actual Loops"]] if "'running'" in conds else []
    for child in node.get("Plans", ()):
        found += running_scans(child)
    return found


def test_completions_and_one_group_claims_skip_running_entries_never_analyzed(
    never_analyzed_url: str,
) -> None:
    # Every finished job leaves a dead entry among the running ones of
    # conveyor_jobs_state_queue. Without statistics, the completion found its batch through a
    # bitmap scan of all of them, and the claim counted each group's running jobs the same way
    # even with one group, where the count cannot change the order (decision 126).
    with psycopg.connect(never_analyzed_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE conveyor_jobs SET (autovacuum_enabled = off)")
        conn.execute(TENANTS_LOAD, {"rows": 20_000})
        conn.execute(TENANTS_LOAD.replace("'emails'", "'plain'").replace(
            "'t' || (g %% 20)", "NULL"), {"rows": 20_000})
        conn.execute(
            "UPDATE conveyor_jobs SET state = 'running', token = 1, worker_id = 'w', "
            "lease_until = now() + interval '1 minute' WHERE id % 400 = 0"
        )
        batch = [
            {"id": row[0], "token": 1, "kind": "succeeded", "state": "succeeded", "final": True,
             "attempt_delta": 0, "outcome": "succeeded"}
            for row in conn.execute("SELECT id FROM conveyor_jobs WHERE state = 'running'")
        ]
        assert conn.execute(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'conveyor_jobs'"
        ).fetchone() == (0,)

        def plan(sql: str, queues: list[str]) -> dict[str, Any]:
            params = {
                "queues": queues, "names": ["send"], "limit": 50, "worker_id": "w-test",
                "lease_seconds": 30.0, "batch": json.dumps(batch), "channel": "conveyor",
                "completing": [],
            }
            return explained(conn, sql, params, analyze=True)

        for sql in (query("complete_jobs", "public"), complete_and_claim_sql("public")):
            assert cte_reads(plan(sql, ["plain"]), "done") == {"conveyor_jobs_pkey"}
        for name in ("claim_jobs", "complete_and_claim"):
            sql = query(name, "public") if name == "claim_jobs" else complete_and_claim_sql(
                "public")
            one_group = running_scans(plan(sql, ["plain"]))
            assert one_group and set(one_group) == {0}, name  # planned, never started
            assert max(running_scans(plan(sql, ["emails"]))) >= 1, name  # twenty tenants


def cte_rescans(node: dict[str, Any], cte: str) -> list[int]:
    """Actual loops of every scan of the CTE ``cte`` (more than 1: read again per outer row)."""
    found = [node["Actual Loops"]] if (
        node.get("Node Type") == "CTE Scan" and node.get("CTE Name") == cte
    ) else []
    for child in node.get("Plans", ()):
        found += cte_rescans(child, cte)
    return found


def test_claims_keep_to_indexes_on_a_table_grown_from_empty_and_never_analyzed(
    never_analyzed_url: str,
) -> None:
    # A statement marked generic is planned once per connection, at its first run (decision
    # 120), and nothing replans it until the table is analyzed: a worker started on an empty
    # table kept a plan made for one, with a sequential scan in its lock step. And a claim
    # planned at each run, without statistics, found each queue's first tenant by sorting all
    # its waiting jobs. A fan-out of 60,000 items written while they ran, autovacuum off: 15
    # to 20 ms a claim (decision 128).
    params = {
        "queues": ["emails", "plain"], "names": ["send"], "limit": 50, "worker_id": "w-test",
        "lease_seconds": 30.0, "batch": "[]", "channel": "conveyor", "completing": [],
    }
    statements = {
        "claim_jobs": query("claim_jobs", "public"),
        "claim_jobs_tenants": query("claim_jobs_tenants", "public"),
        "complete_and_claim": complete_and_claim_sql("public"),
        "look_and_claim": look_and_claim_sql("public", "claim_jobs"),
    }
    with psycopg.connect(never_analyzed_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE conveyor_jobs SET (autovacuum_enabled = off)")
        prepared = {}
        for number, (name, sql) in enumerate(statements.items()):
            text, values = as_prepared(sql, params)
            conn.execute(f"PREPARE claim_{number} AS {text}")
            prepared[name] = (f"claim_{number}", values)

        def explain(name: str, options: str) -> dict[str, Any]:
            # In a transaction of its own with the settings the worker's drivers send.
            conn.execute("BEGIN")
            try:
                conn.execute(SET_GENERIC)
                (output,) = explain_execute(conn, *prepared[name], options=options)
            finally:
                conn.execute("ROLLBACK")
            return (output if isinstance(output, list) else json.loads(output))[0]["Plan"]  # type: ignore[no-any-return]

        for name in statements:
            explain(name, "FORMAT JSON")  # planned now, on the empty table, and kept
        conn.execute(TENANTS_LOAD, {"rows": 20_000})
        conn.execute(TENANTS_LOAD.replace("'emails'", "'plain'").replace(
            "'t' || (g %% 20)", "NULL"), {"rows": 20_000})
        for number, (name, sql) in enumerate(statements.items()):
            # A worker started after its work plans its claims on the loaded table.
            text, values = as_prepared(sql, params)
            conn.execute(f"PREPARE loaded_{number} AS {text}")
            prepared[f"loaded {name}"] = (f"loaded_{number}", values)
        for name, sql in statements.items():
            plan = explain(name, "ANALYZE, FORMAT JSON")
            assert seq_scans(plan) == [], name
            for planned in (plan, explain(f"loaded {name}", "ANALYZE, FORMAT JSON")):
                # The lock step reads the ranked candidates once: joined to the locked rows,
                # the generic plan made on the loaded table rescanned them for each one,
                # 100 x 100 rows a claim of 50 (decision 138).
                assert max(cte_rescans(planned, "ranked"), default=0) <= 1, name
            # (Its other scan is of conveyor_queues, for the paused ones.)
            assert cte_reads(plan, "tenants") - {"Seq Scan"} == {"conveyor_jobs_ready_tenant"}
            # Planned for this table (a custom plan, as a round that advances a run gets): the
            # tenants' probes found each queue's first tenant by sorting its waiting jobs.
            plan = explained(conn, sql, params)
            assert cte_reads(plan, "tenants") - {"Seq Scan"} == {"conveyor_jobs_ready_tenant"}


def bitmap_scans(node: dict[str, Any]) -> list[str]:
    """The jobs-table bitmap scans in a plan node and below."""
    found = []
    if node.get("Node Type") == "Bitmap Heap Scan" and node.get("Relation Name") == "conveyor_jobs":
        found.append(f"Bitmap Heap Scan on conveyor_jobs ({node.get('Recheck Cond', '-')})")
    for child in node.get("Plans", ()):
        found.extend(bitmap_scans(child))
    return found


def test_the_limited_pass_walks_its_indexes_on_a_table_never_analyzed(
    never_analyzed_url: str,
) -> None:
    # Without statistics, the limited pass's first statement counted the keys' running jobs
    # with a bitmap scan of every running entry ever made (each finished job leaves a dead
    # one, and a bitmap scan never marks them), and read its window of candidates by sorting
    # every waiting job of the queue: 5 to 20 ms a pass at 20,000 jobs (decision 132).
    store = PostgresStore(never_analyzed_url, migrate=False)
    try:
        with psycopg.connect(never_analyzed_url, autocommit=True) as conn:
            conn.execute("ALTER TABLE conveyor_jobs SET (autovacuum_enabled = off)")
            conn.execute(
                TENANTS_LOAD.replace("'t' || (g %% 20)", "NULL"), {"rows": 40_000}
            )
            conn.execute("UPDATE conveyor_jobs SET limit_key = 'k', limit_max = 10000")
            # Seven in eight ran and finished: dead entries among the running ones.
            conn.execute(
                "UPDATE conveyor_jobs SET state = 'running', token = 1, worker_id = 'w', "
                "lease_until = now() + interval '1 minute' WHERE id % 8 <> 0"
            )
            conn.execute(
                "UPDATE conveyor_jobs SET state = 'succeeded', finished_at = now() "
                "WHERE state = 'running'"
            )
            assert conn.execute(
                "SELECT count(*) FROM pg_stats WHERE tablename = 'conveyor_jobs'"
            ).fetchone() == (0,)
            # The statement as the store sends it.
            params = ClaimParams("w-test", ("emails",), ("send",), 50, 30, limited_names=("send",))
            statement = next(store.plans._limited_candidates(params, 200))
            assert statement.settings == INDEX_WALKS
            conn.execute("BEGIN")
            try:
                conn.execute(set_sql(statement.settings))
                (output,) = conn.execute(  # type: ignore[misc]
                    f"EXPLAIN (ANALYZE, FORMAT JSON) {statement.sql}", statement.params
                ).fetchone()
            finally:
                conn.execute("ROLLBACK")
        plan = (output if isinstance(output, list) else json.loads(output))[0]["Plan"]
        assert cte_reads(plan, "candidates") - {"Seq Scan"} == {"conveyor_jobs_ready_limited"}
        assert cte_reads(plan, "full_keys") == {"conveyor_jobs_limit_running"}
        assert bitmap_scans(plan) == [] and seq_scans(plan) == []
    finally:
        store.close()


@pytest.fixture
def blank_url(fresh_postgres_url: Callable[[], str], postgres_template: str) -> Iterator[str]:
    """An empty database (no Conveyor tables yet), dropped afterwards."""
    yield from database_from(fresh_postgres_url, f"{postgres_template}_blank", "template0")


def test_every_connection_finds_the_first_tenant_in_index_order(blank_url: str) -> None:
    # A process that migrates, enqueues and then works: on the pool's connection that had
    # created the tables, the round's generic plan read every ready job through
    # conveyor_jobs_ready and sorted them to find the queue's first tenant, a round growing
    # with the backlog (25 ms at 50,000 ready jobs against 1 ms on the other connection).
    # Sorts are priced out of generic plans now (decision 139).
    store = PostgresStore(blank_url)
    try:
        store.migrate()
        for _ in range(10):
            store.insert_jobs([NewJob("q", "j", "{}", max_attempts=3)] * 5000)
        params = ClaimParams("w-test", ("q",), ("j",), 50, 30.0)
        claimed = store.claim_jobs(params)
        for _ in range(3):  # the round is prepared on each of the pool's connections
            done = [Completion(j.id, j.token, CompletionKind.SUCCEEDED) for j in claimed]
            claimed = store.complete_and_claim(done, params).claimed
        values = as_prepared(complete_and_claim_sql("public"), {
            "batch": "[]", "channel": "conveyor", "queues": ["q"], "names": ["j"],
            "limit": 50, "worker_id": "w-test", "lease_seconds": 30.0,
        })[1]
        with contextlib.ExitStack() as held:
            conns = [held.enter_context(store.pool.connection()) for _ in range(2)]
            reads = []
            for conn in conns:
                conn.autocommit = True
                names = [name for name, text in conn.execute(
                    "SELECT name, statement FROM pg_prepared_statements"
                ) if text.lstrip().startswith("WITH RECURSIVE c AS")]
                for name in names:  # the round's statement as psycopg prepared it
                    conn.execute("BEGIN")
                    try:
                        conn.execute(SET_GENERIC)
                        (output,) = explain_execute(conn, name, values, "ANALYZE, FORMAT JSON")
                    finally:
                        conn.execute("ROLLBACK")
                    plan = (output if isinstance(output, list) else json.loads(output))[0]
                    reads.append(cte_reads(plan["Plan"], "tenants") - {"Seq Scan"})
        assert len(reads) == 2  # both connections ran a round
        assert reads == [{"conveyor_jobs_ready_tenant"}] * 2
    finally:
        store.close()
