"""The app of the lost-answer test (test_claim_answer_lost.py): one effect job, limited when
``IT_LOST_LIMITED`` is set, so the worker's claim is then the limited pass's transaction
(BEGIN ... COMMIT, pipelined) rather than one statement."""

import os
import sqlite3

from conveyor import Concurrency, Conveyor

app = Conveyor()
LIMITED = bool(os.environ.get("IT_LOST_LIMITED"))


@app.job(
    name="effect",
    queue="lost",
    retries=0,
    timeout=30,
    limit=Concurrency(10, key="all") if LIMITED else None,
)
def effect(ctx, key: str) -> str:
    """Insert one effect row (a second run of the job fails on the UNIQUE key)."""
    conn = sqlite3.connect(os.environ["IT_EFFECTS_DB"], timeout=30, isolation_level=None)
    try:
        conn.execute("INSERT INTO effects (key) VALUES (?)", (key,))
    finally:
        conn.close()
    return key
