"""The app of the metrics tests: a known mix of outcomes in two queues."""

import asyncio
import time

from conveyor import Backoff, Conveyor, Permanent

app = Conveyor()


@app.job(name="m_ok", queue="mfast")
def ok(ctx, n: int) -> int:
    time.sleep(0.05)  # long enough that one process cannot take the whole batch
    return n


@app.job(name="m_doomed", queue="mfast", retries=3)
def doomed(ctx) -> None:
    raise Permanent("cannot ever work")


@app.job(name="m_slow", queue="mslow", timeout=0.2, retries=0)
async def slow(ctx) -> None:
    await asyncio.sleep(5)


@app.job(name="m_flaky", queue="mslow", retries=2, backoff=Backoff(base=0.05, cap=0.05))
async def flaky(ctx) -> str:
    if ctx.attempt == 1:
        raise ValueError("first attempt fails")
    return "ok"


@app.job(name="m_parent", queue="mfast")
def parent(ctx) -> None:
    ok.enqueue(n=-1)  # counted by the worker process that enqueued it
