"""The threads sync handlers run on: results, errors, context, the size bound, cancelling."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from conveyor.worker.job_threads import JobThreads

REQUEST = contextvars.ContextVar[str]("request", default="none")


def test_results_errors_and_the_callers_context_reach_the_awaiting_task() -> None:
    async def main() -> None:
        threads = JobThreads(asyncio.get_running_loop(), 4, "t")
        REQUEST.set("r-7")
        names: list[str] = []

        def work(i: int) -> tuple[int, str]:
            names.append(threading.current_thread().name)
            return i * 2, REQUEST.get()

        results = await asyncio.gather(*(threads.submit(lambda i=i: work(i)) for i in range(200)))
        assert results == [(i * 2, "r-7") for i in range(200)]
        assert set(names) <= {f"t_{n}" for n in range(4)}
        assert threading.current_thread().name not in names

        def fail() -> None:
            raise KeyError("missing")

        with pytest.raises(KeyError, match="missing"):
            await threads.submit(fail)

        def interrupt() -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            await threads.submit(interrupt)
        threads.shutdown()

    asyncio.run(main())


def test_no_more_threads_than_its_size_however_many_calls_wait() -> None:
    async def main() -> None:
        threads = JobThreads(asyncio.get_running_loop(), 3, "t")
        gate = threading.Event()
        inside = 0
        most = 0
        lock = threading.Lock()

        def held() -> None:
            nonlocal inside, most
            with lock:
                inside += 1
                most = max(most, inside)
            gate.wait(5)
            with lock:
                inside -= 1

        calls = [threads.submit(held) for _ in range(10)]
        await asyncio.sleep(0.2)
        assert inside == 3
        gate.set()
        await asyncio.gather(*calls)
        assert most == 3
        assert len(threads._threads) == 3
        threads.shutdown()

    asyncio.run(main())


def test_a_call_cancelled_before_a_thread_takes_it_never_runs() -> None:
    async def main() -> None:
        threads = JobThreads(asyncio.get_running_loop(), 1, "t")
        gate = threading.Event()
        ran: list[str] = []
        first = threads.submit(lambda: gate.wait(5))
        second = threads.submit(lambda: ran.append("second"))
        second.cancel()
        third = threads.submit(lambda: ran.append("third"))
        gate.set()
        await first
        await third
        assert ran == ["third"]
        threads.shutdown()

    asyncio.run(main())


def test_a_timeout_leaves_the_thread_running_and_drops_its_result() -> None:
    async def main() -> None:
        threads = JobThreads(asyncio.get_running_loop(), 1, "t")
        gate = threading.Event()
        finished = threading.Event()

        def slow() -> str:
            gate.wait(5)
            finished.set()
            return "late"

        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await threads.submit(slow)
        gate.set()
        assert await asyncio.to_thread(finished.wait, 5)
        assert await threads.submit(lambda: "next") == "next"
        threads.shutdown()

    asyncio.run(main())


def test_shutdown_cancels_what_no_thread_took_and_refuses_new_calls() -> None:
    async def main() -> None:
        threads = JobThreads(asyncio.get_running_loop(), 1, "t")
        gate = threading.Event()
        running = threads.submit(lambda: gate.wait(5))
        queued = threads.submit(lambda: "never")
        threads.shutdown()
        assert queued.cancelled()
        with pytest.raises(RuntimeError, match="shut down"):
            threads.submit(lambda: None)
        gate.set()
        assert await running is True

    asyncio.run(main())
