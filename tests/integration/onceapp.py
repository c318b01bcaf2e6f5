"""The app of the ``ctx.once()`` integration tests, run in real worker processes.

Each handler writes its effect into ``once_effects`` in Conveyor's own database, through the
handler's transaction and guarded by ``ctx.once("effect", n)``. The table has no unique
constraint on purpose: a guarded effect that ran twice shows up as two rows for one ``n``.
"""

import sqlite3
import time

from conveyor import Backoff, Conveyor

app = Conveyor()

EFFECT_TABLE = "CREATE TABLE once_effects (n INTEGER NOT NULL, job_id INTEGER NOT NULL)"
# A conflict is retried at once; a killed attempt after its lease: keep both quick.
OPTIONS = {"queue": "once", "retries": 8, "backoff": Backoff(base=0.05, cap=0.2)}


def _insert_sql(conn: object) -> str:
    if isinstance(conn, sqlite3.Connection):
        return "INSERT INTO once_effects (n, job_id) VALUES (?, ?)"
    return "INSERT INTO once_effects (n, job_id) VALUES (%s, %s)"


@app.job(name="once_effect", **OPTIONS)
def once_effect(ctx, n: int) -> None:
    time.sleep(0.001)  # a little work, so a kill lands mid-run
    conn = ctx.transaction
    with ctx.once("effect", n) as first:
        if first:
            conn.execute(_insert_sql(conn), (n, ctx.job_id))


@app.job(name="once_effect_async", **OPTIONS)
async def once_effect_async(ctx, n: int) -> None:
    conn = await ctx.transaction_async()
    async with ctx.once_async("effect", n) as first:
        if first:
            if isinstance(conn, sqlite3.Connection):
                conn.execute(_insert_sql(conn), (n, ctx.job_id))
            else:
                await conn.execute(_insert_sql(conn), (n, ctx.job_id))
