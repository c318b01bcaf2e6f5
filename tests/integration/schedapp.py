"""An app whose schedules fire every second, run by real worker processes in the tests.

Each run writes its slot to the effects file, whose ``key`` column is UNIQUE: a slot that
fired twice is a constraint violation there, and a missing row is a slot that never ran.
"""

import os
import sqlite3

from conveyor import Conveyor

app = Conveyor()
app.configure_monitor(enabled=False)  # the monitor has its own tests


def record(key: str) -> None:
    """Insert one effect row (fails on a duplicate key)."""
    conn = sqlite3.connect(os.environ["IT_EFFECTS_DB"], timeout=30, isolation_level=None)
    try:
        conn.execute("INSERT INTO effects (key) VALUES (?)", (key,))
    finally:
        conn.close()


# Overlap is allowed: these tests are about each slot firing once across replicas, kills and
# restarts. Under the default overlap="skip" a slot is rightly skipped while the run before it
# is still queued (a busy box claims it a second late) or held by a killed process until its
# lease lapses: the overlap policy at work (its own tests cover it), not a slot fired twice.
if not os.environ.get("IT_STANDBY"):

    @app.every("1s", name="tick", grace="1m", overlap="allow")
    def tick(ctx) -> float:
        record(f"tick:{ctx.slot}")
        return ctx.slot

else:
    # Only in the standby test: a slot every 4 seconds, on time for 4 seconds, so a standby
    # scheduler comes round every 2 (a one-second schedule would keep every standby at a
    # round a second, and the test would not tell a standby's pace from the holder's).
    @app.every("4s", name="every4", overlap="allow")
    def every4(ctx) -> float:
        record(f"every4:{ctx.slot}")
        return ctx.slot


@app.job(name="catch")
def catch(ctx, policy: str) -> None:
    record(f"{policy}:{ctx.slot}")


if os.environ.get("IT_CATCH_UP"):
    # Only in the downtime test: three policies over the same one-second slots. Overlap is
    # allowed: a slot fired just before the first worker stopped can stay queued through the
    # downtime, and under the default overlap="skip" that pending run would (rightly) skip
    # the first catch-up slot, which is not what this test is about.
    for policy in ("latest", "all", "none"):
        app.schedule(
            f"catch_{policy}", "catch", every="1s", args={"policy": policy}, catch_up=policy,
            catch_up_cap=3, overlap="allow",
        )
