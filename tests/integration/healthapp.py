"""The app of the health-probe tests: one job that blocks its worker's event loop."""

import time

from conveyor import Conveyor

app = Conveyor()


@app.job(name="block_loop", queue="health", retries=0)
async def block_loop(ctx, seconds: float) -> None:
    # Deliberately wrong: a blocking call inside async def stalls the whole event loop.
    time.sleep(seconds)
