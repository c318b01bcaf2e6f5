"""The pipeline benchmark's app: a plain no-op job, the 3-step chain written by hand (each
job enqueues the next), a 3-stage chain pipeline and a fan-out/fan-in.

Worker processes load it as ``pipebench:app`` (``benchmarks/`` on ``PYTHONPATH``) and read the
store URL from ``CONVEYOR_URL``; the driver (``pipelines.py``) builds its own copy with
:func:`build`. Every stage does nothing but hand its value on, so the figures are what the
pipeline machinery costs.
"""

from __future__ import annotations

from conveyor import Conveyor, JobContext

QUEUE = "pbench"
PLAIN_JOB = "pbench.noop"
BY_HAND_JOB = "pbench.by_hand"


def build(url: str | None = None) -> Conveyor:
    """A fresh app on ``url`` (``None``: ``CONVEYOR_URL``)."""
    # The fan run's split returns the list of its items: 100,000 of them are about 600 KB of
    # JSON, over the default payload limit of 256 KiB.
    conveyor = Conveyor(url, max_payload_bytes=8 * 1024 * 1024)

    @conveyor.job(name=PLAIN_JOB, queue=QUEUE)
    async def noop(ctx: JobContext, i: int) -> None:
        """Do nothing: the plain job the stages are compared with."""

    @conveyor.job(name=BY_HAND_JOB, queue=QUEUE)
    async def by_hand(ctx: JobContext, i: int, step: int) -> int:
        """One step of the 3-step chain written without a pipeline: it enqueues the next step
        in the transaction that completes it, as a stage's hand-off does."""
        if step < 3:
            conn = await ctx.transaction_async()
            await by_hand.enqueue_async(i=i, step=step + 1, connection=conn)
        return i

    chain = conveyor.pipeline("chain")

    @chain.stage(queue=QUEUE)
    async def s1(ctx: JobContext, i: int) -> int:
        """First stage: takes the run's input."""
        return i

    @chain.stage(after=s1, queue=QUEUE)
    async def s2(ctx: JobContext, value: int) -> int:
        """Second stage: takes s1's output."""
        return value

    @chain.stage(after=s2, queue=QUEUE)
    async def s3(ctx: JobContext, value: int) -> int:
        """Third stage: the run's result."""
        return value

    fan = conveyor.pipeline("fan")

    @fan.stage(queue=QUEUE)
    async def split(ctx: JobContext, n: int) -> list[int]:
        """The items to fan out over."""
        return list(range(n))

    @fan.stage(after=split, each=lambda xs: xs, queue=QUEUE)
    async def item(ctx: JobContext, x: int) -> int:
        """One job per item."""
        return x

    @fan.stage(after=item, queue=QUEUE)
    async def gather(ctx: JobContext, xs: list[int]) -> int:
        """The fan-in: starts once, when the last item finished."""
        return len(xs)

    return conveyor


app = build()
"""The app worker processes run (the store is opened lazily, on first use)."""
