"""The pipelines the integration tests run in real worker processes (and in process).

Every stage records an effect (``<stage>:<key>:<job id>:<attempt>``) in the effects file, so a
test counts how often each stage ran. Failures are switched on by flag rows in the same file
(``flag:<name>``), which a test writes and clears while the workers run.
"""

import asyncio
import os
import sqlite3
import uuid
from typing import Any

import pydantic

from conveyor import Backoff, Conveyor, Permanent
from conveyor.pipelines import ItemFailure

app = Conveyor()
FAST = {"retries": 2, "backoff": Backoff(base=0.05, cap=0.1), "queue": "pipe"}


def _connect() -> sqlite3.Connection:
    return sqlite3.connect(os.environ["IT_EFFECTS_DB"], timeout=30, isolation_level=None)


def record(stage: str, key: object, ctx: Any) -> None:
    """One row per run of a stage's code (a released attempt that runs again counts twice)."""
    conn = _connect()
    try:
        conn.execute(
            "INSERT INTO effects (key) VALUES (?)",
            (f"{stage}:{key}:{ctx.job_id}:{ctx.attempt}:{uuid.uuid4().hex}",),
        )
    finally:
        conn.close()


def flag(name: str) -> bool:
    """True while the test has set ``flag:<name>``."""
    conn = _connect()
    try:
        return conn.execute("SELECT 1 FROM effects WHERE key = ?", (f"flag:{name}",)).fetchone() \
            is not None
    finally:
        conn.close()


# -- fetch -> embed (one job per chunk) -> index ----------------------------------------------


class Fetched(pydantic.BaseModel):
    doc_id: int
    chunks: list[str]


class Vector(pydantic.BaseModel):
    doc_id: int
    index: int
    values: list[float]


class Indexed(pydantic.BaseModel):
    doc_id: int
    rows: int
    failed: list[int] = []


def make_ingest(name: str, policy: str) -> Any:
    """fetch -> embed (each chunk) -> index, with ``on_item_failure=policy``."""
    pipeline = app.pipeline(name)

    @pipeline.stage(**FAST)
    def fetch(ctx: Any, doc_id: int, chunks: list[str]) -> Fetched:
        record(f"{name}.fetch", doc_id, ctx)
        return Fetched(doc_id=doc_id, chunks=chunks)

    @pipeline.stage(after=fetch, each=lambda f: [(f.doc_id, c) for c in f.chunks],
                    on_item_failure=policy, **FAST)
    async def embed(ctx: Any, chunk: tuple[int, str]) -> Vector:
        doc_id, text = chunk
        if text == "bad":
            raise Permanent(f"chunk {text!r} cannot be embedded")
        await asyncio.to_thread(record, f"{name}.embed", text, ctx)
        return Vector(doc_id=doc_id, index=len(text), values=[float(len(text)), 0.5])

    @pipeline.stage(after=embed, **FAST)
    def index(ctx: Any, vectors: list[Vector | ItemFailure]) -> Indexed:
        record(f"{name}.index", len(vectors), ctx)
        good = [v for v in vectors if isinstance(v, Vector)]
        failed = [v.item for v in vectors if isinstance(v, ItemFailure)]
        return Indexed(doc_id=good[0].doc_id if good else -1, rows=len(good), failed=failed)

    return pipeline


ingest = make_ingest("ingest", "fail")
ingest_skip = make_ingest("ingest_skip", "skip")
ingest_collect = make_ingest("ingest_collect", "collect")


# -- a chain of five: s4 fails while flag "s4" is set -------------------------------------------

chain = app.pipeline("chain")


def _step(stage: str) -> Any:
    def run(ctx: Any, n: int) -> int:
        record(f"chain.{stage}", n, ctx)
        if stage == "s4" and flag("s4"):
            raise Permanent("s4 is switched to fail")
        return n + 1

    run.__name__ = stage
    return run


@chain.stage(name="s1", **FAST)
def s1(ctx: Any, n: int) -> int:
    record("chain.s1", n, ctx)
    return n + 1


s2 = chain.stage(name="s2", after=s1, **FAST)(_step("s2"))
s3 = chain.stage(name="s3", after=s2, **FAST)(_step("s3"))
s4 = chain.stage(name="s4", after=s3, **FAST)(_step("s4"))
s5 = chain.stage(name="s5", after=s4, **FAST)(_step("s5"))


# -- the seam: an upstream feed renames a field ---------------------------------------------------

feed = app.pipeline("feed")


@feed.stage(**FAST)
def pull(ctx: Any, doc_id: int) -> dict[str, Any]:
    record("feed.pull", doc_id, ctx)
    field = "vals" if flag("renamed") else "values"
    return {"doc_id": doc_id, "index": 0, field: [1.0, 2.0]}


@feed.stage(after=pull, **FAST)
def normalize(ctx: Any, raw: dict[str, Any]) -> Vector:
    record("feed.normalize", raw.get("doc_id"), ctx)
    return raw  # type: ignore[return-value] - passed through: the seam check catches a rename


@feed.stage(after=normalize, **FAST)
async def store(ctx: Any, vector: Vector) -> int:
    await asyncio.to_thread(record, "feed.store", vector.doc_id, ctx)
    return len(vector.values)


# -- checkpoints: a stage whose second step fails once ----------------------------------------


steps = app.pipeline("steps")


@steps.stage(**FAST)
def download(ctx: Any, n: int) -> int:
    first = ctx.step("first", lambda: (record("steps.first", n, ctx), n * 10)[1])
    if ctx.attempt == 1:
        raise RuntimeError("fails after the checkpoint, once")
    return first + 1


@steps.stage(after=download, **FAST)
async def upload(ctx: Any, total: int) -> int:
    async def once() -> int:
        await asyncio.to_thread(record, "steps.upload", total, ctx)
        return total * 2

    value = await ctx.astep("upload", once)
    if ctx.attempt == 1:
        raise RuntimeError("fails after the async checkpoint, once")
    return int(value)


# -- a slow stage, to cancel or stop mid-run ----------------------------------------------------

slow = app.pipeline("slow")


@slow.stage(queue="pipe", retries=0)
async def wait(ctx: Any, seconds: float) -> float:
    record("slow.wait", seconds, ctx)
    await asyncio.sleep(seconds)
    return seconds


@slow.stage(after=wait, queue="pipe")
def after_wait(ctx: Any, seconds: float) -> float:
    record("slow.after", seconds, ctx)
    return seconds



# -- a fan-out behind a slow first stage, for burst workers ------------------------------------

relay = app.pipeline("relay")


@relay.stage(queue="pipe")
async def hold(ctx: Any, n: int, seconds: float, processes: int) -> list[int]:
    """Long enough that a second burst process finds nothing to claim at first, and until
    ``processes`` worker processes are up (a process slow to start on a busy box would
    otherwise find the items done)."""
    await asyncio.sleep(seconds)
    for _ in range(600):
        if len(await asyncio.to_thread(app.store.live_workers, 60.0)) >= processes:
            break
        await asyncio.sleep(0.1)
    return list(range(n))


@relay.stage(after=hold, each=lambda xs: xs, queue="pipe")
async def pass_on(ctx: Any, x: int) -> int:
    await asyncio.sleep(0.03)
    return x


@relay.stage(after=pass_on, queue="pipe")
def count(ctx: Any, xs: list[int]) -> int:
    return len(xs)


# -- a long fan-out made by each= from a count, to kill mid-write ------------------------------

spread = app.pipeline("spread")


@spread.stage(queue="pipe")
def count_to(ctx: Any, n: int) -> int:
    return n


@spread.stage(after=count_to, each=lambda n: list(range(n)), queue="pipe", retries=3)
async def piece(ctx: Any, x: int) -> int:
    return x


@spread.stage(after=piece, queue="pipe")
def pieces(ctx: Any, xs: list[int]) -> int:
    return len(xs) if xs == list(range(len(xs))) else -1


# -- wide fan-out: one job per number, one bad number ----------------------------------------


def make_wide(name: str, policy: str) -> Any:
    """seed -> square (each number; ``bad`` fails permanently) -> total."""
    pipeline = app.pipeline(name)

    @pipeline.stage(queue="pipe")
    def seed(ctx: Any, n: int, bad: int) -> list[tuple[int, int]]:
        return [(i, bad) for i in range(n)]

    @pipeline.stage(after=seed, each=lambda pairs: pairs, on_item_failure=policy, queue="pipe",
                    retries=0)
    def square(ctx: Any, pair: tuple[int, int]) -> int:
        number, bad = pair
        if number == bad:
            raise Permanent(f"{number} is the bad number")
        return number * number

    @pipeline.stage(after=square, queue="pipe")
    def total(ctx: Any, squares: list[int | ItemFailure]) -> dict[str, int]:
        record(f"{name}.total", len(squares), ctx)
        failures = [s for s in squares if isinstance(s, ItemFailure)]
        return {
            "count": len(squares) - len(failures),
            "failures": len(failures),
            "sum": sum(s for s in squares if isinstance(s, int)),
        }

    return pipeline


wide_fail = make_wide("wide_fail", "fail")
wide_skip = make_wide("wide_skip", "skip")
wide_collect = make_wide("wide_collect", "collect")
