"""Jobs declared without ``timeout=``, for the default timeout tests: the app reads
``CONVEYOR_DEFAULT_TIMEOUT`` (and ``CONVEYOR_URL``) when the module is loaded."""

from __future__ import annotations

import asyncio
import time

from conveyor import Conveyor

app = Conveyor()


@app.job(name="untimed_async", queue="work", retries=0)
async def untimed_async(ctx, seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@app.job(name="untimed_sync", queue="work", retries=0)
def untimed_sync(ctx, seconds: float) -> str:
    time.sleep(seconds)
    return "done"


@app.job(name="no_timeout", queue="work", timeout=None)
def no_timeout(ctx, seconds: float) -> str:
    time.sleep(seconds)
    return "done"
