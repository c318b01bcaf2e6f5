"""The app the integration tests run in real worker processes.

Every handler that has an effect writes it to a separate SQLite file whose ``key`` column is
UNIQUE, so a job that ran twice is a constraint violation, and a count proves none was lost.
"""

import asyncio
import os
import signal
import sqlite3
import time

from conveyor import Backoff, Conveyor, Retention

app = Conveyor(
    retention=Retention(succeeded=float(os.environ.get("IT_RETAIN_SUCCEEDED", "86400")))
)


def record(key: str) -> None:
    """Insert one effect row (fails on a duplicate key)."""
    conn = sqlite3.connect(os.environ["IT_EFFECTS_DB"], timeout=30, isolation_level=None)
    try:
        conn.execute("INSERT INTO effects (key) VALUES (?)", (key,))
    finally:
        conn.close()


@app.job(name="effect", queue="work")
def effect(ctx, key: str) -> str:
    record(key)
    return key


@app.job(name="effect_async", queue="work")
async def effect_async(ctx, key: str) -> str:
    await asyncio.to_thread(record, key)
    return key


@app.job(name="paced_effect", queue="work")
async def paced_effect(ctx, key: str, ms: float) -> str:
    """An effect that takes ``ms`` first (the process-recycling test)."""
    await asyncio.sleep(ms / 1000.0)
    await asyncio.to_thread(record, key)
    return key


@app.job(name="emitter", queue="work", retries=0)
def emitter(ctx, n: int, pause: float, size: int = 0) -> int:
    """Streams ``n`` lines (or ``size``-byte chunks) of output, ``pause`` seconds apart."""
    for i in range(n):
        ctx.emit("x" * size if size else f"line {i}\n")
        time.sleep(pause)
    return n


@app.job(name="emitter_async", queue="work", retries=0)
async def emitter_async(ctx, n: int, pause: float) -> int:
    """The async twin: streams ``n`` JSON chunks."""
    for i in range(n):
        await ctx.aemit({"i": i})
        await asyncio.sleep(pause)
    return n


@app.job(name="slow_first", queue="work", retries=3, backoff=Backoff(base=0.1, cap=0.2))
def slow_first(ctx, key: str, seconds: float) -> int:
    record(f"{key}:start:{ctx.attempt}")
    if ctx.attempt == 1:
        time.sleep(seconds)
    return ctx.attempt


@app.job(name="flaky", queue="work", retries=3, backoff=Backoff(base=0.1, cap=0.2))
async def flaky(ctx, key: str, fail_times: int) -> int:
    record(f"{key}:{ctx.attempt}")
    if ctx.attempt <= fail_times:
        raise RuntimeError(f"{key} fails attempt {ctx.attempt}")
    return ctx.attempt


@app.job(name="sleeper", queue="work")
def sleeper(ctx, seconds: float) -> str:
    time.sleep(seconds)
    return "done"


@app.job(name="async_sleeper", queue="work", timeout=1, retries=0)
async def async_sleeper(ctx, seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@app.job(name="poison", queue="work", retries=2)
def poison(ctx) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@app.job(name="hang", queue="work", timeout=1, retries=0)
def hang(ctx) -> None:
    time.sleep(60)


def record_interval(lane: str, n: int, started: float) -> None:
    """Record one run's [start, end] as an effect key ``lane|n|start|end``."""
    record(f"{lane}|{n}|{started:.6f}|{time.time():.6f}")


@app.job(name="lane_heavy", queue="heavy")
def lane_heavy(ctx, n: int, seconds: float) -> None:
    started = time.time()
    time.sleep(seconds)
    record_interval("heavy", n, started)


@app.job(name="lane_light", queue="light")
async def lane_light(ctx, n: int, seconds: float) -> None:
    started = time.time()
    await asyncio.sleep(seconds)
    await asyncio.to_thread(record_interval, "light", n, started)


@app.job(name="tenant_work", queue="tenants")
async def tenant_work(ctx, ms: float) -> None:
    """A short job with a known length, for the fairness test (tenant= on enqueue)."""
    await asyncio.sleep(ms / 1000.0)


# -- cluster-wide limits (tests/integration/test_limits.py) ---------------------------------------

from conveyor import Concurrency, Rate  # noqa: E402  (kept with the jobs that use it)


@app.job(name="vendor_call", queue="vendors", limit=Concurrency(3, key="vendor:{vendor}"))
def vendor_call(ctx, vendor: str, n: int, seconds: float) -> None:
    """A call to a fragile vendor: at most 3 at once per vendor across every worker."""
    started = time.time()
    time.sleep(seconds)
    record_interval(f"vendor-{vendor}", n, started)


@app.job(name="rated_call", queue="rated", rate=Rate(5, per="1s"))
async def rated_call(ctx, n: int) -> None:
    """At most 5 starts in any second across every worker."""
    await asyncio.to_thread(record, f"rated|{n}")


def burn(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU time."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


@app.job(name="metered", queue="metered", retries=0)
def metered(ctx, cpu: float) -> None:
    burn(cpu)
    ctx.usage(tokens=4, cost=0.25)
    ctx.usage(tokens=6, cost=0.25)  # reports add up over the attempt


@app.job(name="metered_async", queue="metered", retries=0)
async def metered_async(ctx, cpu: float) -> None:
    burn(cpu)  # on the event loop, on purpose: the process's CPU over the attempt
    ctx.usage(tokens=10, cost=0.5)


# -- sequences (sequence=): per-key order across processes ---------------------------------------


def _seq_fails(n: int, attempt: int) -> bool:
    """A fixed pattern of failures: some jobs fail once, some twice, then succeed."""
    return (n % 7 == 3 and attempt == 1) or (n % 11 == 5 and attempt <= 2)


@app.job(name="seq_step", queue="seq", sequence="acct:{key}", retries=3,
         backoff=Backoff(base=0.05, cap=0.1))
def seq_step(ctx, key: str, n: int) -> None:
    """Records (key, n) with its start and end; fails by the pattern before recording."""
    started = time.time()
    if _seq_fails(n, ctx.attempt):
        raise RuntimeError(f"planned failure of {key}/{n} on attempt {ctx.attempt}")
    time.sleep(0.002)
    record_interval(f"seq-{key}", n, started)


@app.job(name="seq_step_async", queue="seq", sequence="acct:{key}", retries=3,
         backoff=Backoff(base=0.05, cap=0.1))
async def seq_step_async(ctx, key: str, n: int) -> None:
    """The async twin of :func:`seq_step` (same key space: they share one line per key)."""
    started = time.time()
    if _seq_fails(n, ctx.attempt):
        raise RuntimeError(f"planned failure of {key}/{n} on attempt {ctx.attempt}")
    await asyncio.sleep(0.002)
    await asyncio.to_thread(record_interval, f"seq-{key}", n, started)


@app.job(name="seq_doomed", queue="seq", sequence="acct:{key}", retries=0)
def seq_doomed(ctx, key: str, n: int) -> None:
    """Always dies (the on_dead="block" test)."""
    raise RuntimeError(f"doomed {key}/{n}")


@app.job(name="seq_doomed_continue", queue="seq", sequence="cont:{key}", retries=0,
         on_dead="continue")
def seq_doomed_continue(ctx, key: str, n: int) -> None:
    """Always dies, and lets its key go on."""
    raise RuntimeError(f"doomed {key}/{n}")


@app.job(name="seq_continue", queue="seq", sequence="cont:{key}", on_dead="continue")
def seq_continue(ctx, key: str, n: int) -> None:
    """Records (key, n) in the on_dead="continue" line."""
    record_interval(f"cont-{key}", n, time.time())


@app.job(name="seq_killer", queue="seq", sequence="acct:{key}", retries=2)
def seq_killer(ctx, key: str, n: int) -> None:
    """Kills its own process on the first attempt (kill -9 of the worker running the head)."""
    started = time.time()
    if ctx.attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    record_interval(f"seq-{key}", n, started)
