"""Job definitions: a handler plus its validated policy, and the enqueue API on it."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from conveyor.args import ArgsSpec
from conveyor.durations import Duration, to_seconds
from conveyor.errors import ArgumentError, ConfigurationError
from conveyor.handle import JobHandle
from conveyor.names import check_queue
from conveyor.retries import Backoff
from conveyor.store.protocol import NewJob

if TYPE_CHECKING:
    from conveyor.app import Conveyor

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_QUEUE = "default"
DEFAULT_RETRIES = 3
MAX_PRIORITY = 1_000_000


def _exception_types(value: object, what: str) -> tuple[type[BaseException], ...]:
    items = value if isinstance(value, tuple | list) else (value,)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise ConfigurationError(f"{what} takes exception classes, got {item!r}")
    return tuple(items)


def check_priority(priority: object) -> int:
    """Return a valid priority (an int; higher runs first) or raise."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ConfigurationError(f"priority must be an int (higher runs first), got {priority!r}")
    if abs(priority) > MAX_PRIORITY:
        raise ConfigurationError(f"priority must be within ±{MAX_PRIORITY}, got {priority}")
    return priority


@dataclass(frozen=True)
class JobOptions:
    """A job type's policy, validated when the job is declared."""

    queue: str = DEFAULT_QUEUE
    priority: int = 0
    retries: int = DEFAULT_RETRIES
    """Retries after the first attempt: ``retries=3`` allows 4 attempts in all."""
    backoff: Backoff = field(default_factory=Backoff)
    timeout: float | None = None
    retry_on: tuple[type[BaseException], ...] = ()
    """When set, only these exception types are retried; any other sends the job to dead."""
    give_up_on: tuple[type[BaseException], ...] = ()
    """Exception types that send the job straight to dead."""

    @property
    def max_attempts(self) -> int:
        """Total attempts allowed: the first one plus ``retries``."""
        return self.retries + 1

    @classmethod
    def build(
        cls,
        *,
        queue: str = DEFAULT_QUEUE,
        priority: int = 0,
        retries: int = DEFAULT_RETRIES,
        backoff: Backoff | None = None,
        timeout: Duration | None = None,
        retry_on: object = (),
        give_up_on: object = (),
    ) -> JobOptions:
        """Validate raw decorator arguments; raise :class:`ConfigurationError` on any mistake."""
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(
                f"retries must be a whole number of retries, 0 or more, got {retries!r}"
            )
        if backoff is not None and not isinstance(backoff, Backoff):
            raise ConfigurationError(
                f"backoff must be a conveyor.Backoff(base=..., cap=...), got {backoff!r}"
            )
        seconds = None if timeout is None else to_seconds(timeout, what="timeout")
        if seconds == 0:
            raise ConfigurationError("timeout must be positive; leave it unset for no timeout")
        return cls(
            queue=check_queue(queue),
            priority=check_priority(priority),
            retries=retries,
            backoff=backoff or Backoff(),
            timeout=seconds,
            retry_on=_exception_types(retry_on, "retry_on"),
            give_up_on=_exception_types(give_up_on, "give_up_on"),
        )


class JobDefinition(Generic[P, R]):
    """A registered job type. Call ``.enqueue(...)`` to run it in the background.

    Calling the definition itself runs the handler directly (useful in tests).
    """

    def __init__(
        self, app: Conveyor, fn: Callable[..., Any], name: str, options: JobOptions
    ) -> None:
        self.app = app
        self.fn = fn
        self.name = name
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)
        self.args = ArgsSpec(fn, name)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<job {self.name} queue={self.options.queue}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def prepare(self, *args: Any, **kwargs: Any) -> NewJob:
        """Validate arguments and options into a job ready to insert (nothing is written).

        Options: ``delay`` (seconds or duration), ``run_at`` (datetime), ``priority``,
        ``queue``. Raises :class:`ArgumentError` or :class:`ConfigurationError`.
        """
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in _OPTION_NAMES}
        for reserved in ("unique_key", "tenant"):
            if reserved in options:
                raise ConfigurationError(
                    f"enqueue({reserved}=...) is reserved for a feature not in this release "
                    "yet (unique jobs, tenants); remove it"
                )
        args_json = self.args.encode(args, kwargs, self.app.max_payload_bytes)
        return NewJob(
            queue=check_queue(options.get("queue", self.options.queue)),
            name=self.name,
            args_json=args_json,
            max_attempts=self.options.max_attempts,
            priority=check_priority(options.get("priority", self.options.priority)),
            run_at=_run_at(options.get("run_at")),
            delay=to_seconds(options.get("delay", 0.0), what="delay"),
            timeout=self.options.timeout,
        )

    def enqueue(self, *args: Any, **kwargs: Any) -> JobHandle:
        """Enqueue one job from sync code; returns its handle once it is written.

        ``connection=conn`` writes it inside that connection's open transaction instead.
        """
        connection = kwargs.pop("connection", None)
        return self.app.enqueue_many([self.prepare(*args, **kwargs)], connection=connection)[0]

    async def enqueue_async(self, *args: Any, **kwargs: Any) -> JobHandle:
        """Enqueue one job from async code without blocking the event loop."""
        connection = kwargs.pop("connection", None)
        prepared = [self.prepare(*args, **kwargs)]
        return (await self.app.enqueue_many_async(prepared, connection=connection))[0]

    def enqueue_many(
        self, calls: Iterable[Mapping[str, Any]], **options: Any
    ) -> list[JobHandle]:
        """Enqueue many jobs of this type in one transaction: all are written or none.

        ``calls`` is an iterable of keyword-argument dicts; ``options`` apply to every job.
        """
        connection = options.pop("connection", None)
        return self.app.enqueue_many(self._prepare_all(calls, options), connection=connection)

    async def enqueue_many_async(
        self, calls: Iterable[Mapping[str, Any]], **options: Any
    ) -> list[JobHandle]:
        """The async twin of :meth:`enqueue_many`."""
        connection = options.pop("connection", None)
        prepared = self._prepare_all(calls, options)
        return await self.app.enqueue_many_async(prepared, connection=connection)

    def _prepare_all(
        self, calls: Iterable[Mapping[str, Any]], options: dict[str, Any]
    ) -> list[NewJob]:
        prepared = []
        for index, call in enumerate(calls):
            if not isinstance(call, Mapping):
                raise ArgumentError(
                    f"enqueue_many takes keyword-argument dicts; item {index} is "
                    f"{type(call).__name__}"
                )
            try:
                prepared.append(self.prepare(**call, **options))
            except ArgumentError as exc:
                raise ArgumentError(f"item {index}: {exc}") from exc
        return prepared


_OPTION_NAMES = frozenset(
    {
        "delay", "run_at", "priority", "queue", "connection", "unique_key", "unique_for",
        "tenant", "wait_for_room",
    }
)


def _run_at(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigurationError(
                "run_at must be timezone-aware (e.g. datetime.now(timezone.utc) + ...); a naive "
                "datetime is ambiguous"
            )
        return value.timestamp()
    raise ConfigurationError(f"run_at must be an aware datetime, got {value!r}")


Handler = Callable[..., Any] | Callable[..., Awaitable[Any]]
