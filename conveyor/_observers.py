"""The seam between the app and the test modes: who is told of each enqueue, and what
``app.testing(...)`` returns.

The app (core layer) must not import :mod:`conveyor.testing` (top layer: it runs a worker in
the caller), so the test session registers itself on the app as an :class:`EnqueueObserver`,
the app calls it after each enqueue, and ``app.testing`` is typed by the :class:`TestSession`
protocol here. The implementation is :class:`conveyor.testing.TestSession`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from conveyor._handle import JobHandle
    from conveyor._jobs import JobDefinition
    from conveyor.models import Job

TestMode = Literal["inline", "manual"]
"""``inline``: each job runs in the caller at enqueue; ``manual``: jobs wait to be checked and
drained."""
TEST_MODES: tuple[TestMode, ...] = ("inline", "manual")


@dataclass(frozen=True)
class DrainResult:
    """What one drain did, counting only the jobs it ran (not the rest of the store).

    ``attempts`` is how many attempts it ran; ``succeeded``, ``dead`` and ``cancelled`` how
    many of the jobs it ran ended so; ``waiting`` how many of them still wait for a later try
    (a retry due beyond the drain's horizon when it does not skip backoff).
    """

    attempts: int
    succeeded: int
    dead: int
    cancelled: int
    waiting: int = 0
    job_ids: tuple[int, ...] = ()
    """The ids of the jobs this drain ran, in id order."""


class EnqueueObserver(Protocol):
    """Told about every enqueue of an app, after its jobs are written."""

    def after_enqueue(self, handles: Sequence[JobHandle], *, in_transaction: bool) -> None:
        """Jobs written by a sync enqueue (``in_transaction``: through the caller's
        ``connection=``, so they exist only once the caller commits)."""
        ...

    async def after_enqueue_async(
        self, handles: Sequence[JobHandle], *, in_transaction: bool
    ) -> None:
        """Jobs written by an async enqueue; see :meth:`after_enqueue`."""
        ...


class TestSession(EnqueueObserver, Protocol):
    """A context manager that puts an app in a test mode; see docs/testing.md."""

    mode: TestMode

    def __enter__(self) -> TestSession: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def enqueued(
        self, job: JobDefinition[Any, Any], *, args: dict[str, Any] | None = None,
        queue: str | None = None,
    ) -> list[Job]:
        """See :func:`conveyor.testing.enqueued`."""
        ...

    def assert_enqueued(
        self, job: JobDefinition[Any, Any], *, args: dict[str, Any] | None = None,
        queue: str | None = None, count: int | None = None,
    ) -> list[Job]:
        """See :func:`conveyor.testing.assert_enqueued`."""
        ...

    def refute_enqueued(
        self, job: JobDefinition[Any, Any], *, args: dict[str, Any] | None = None,
        queue: str | None = None,
    ) -> None:
        """See :func:`conveyor.testing.refute_enqueued`."""
        ...

    def drain(
        self, *, queues: Sequence[str] = (), skip_backoff: bool = True,
        with_scheduled: bool = False, timeout: float = 60.0,
    ) -> DrainResult:
        """See :func:`conveyor.testing.drain`."""
        ...

    async def drain_async(
        self, *, queues: Sequence[str] = (), skip_backoff: bool = True,
        with_scheduled: bool = False, timeout: float = 60.0,
    ) -> DrainResult:
        """See :func:`conveyor.testing.drain_async`."""
        ...
