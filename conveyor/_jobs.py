"""Job definitions: a handler plus its validated policy, and the enqueue API on it."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import itertools
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar
from urllib.parse import urlsplit

from conveyor._args import RESERVED, ArgsSpec
from conveyor._destinations import ALLOW_ENV, CREDENTIALS, AllowList, redacted, url_problem
from conveyor._durations import Duration, to_seconds
from conveyor._events import check_event_names
from conveyor._handle import JobHandle
from conveyor._limits import Concurrency, LimitKey, Rate, check_limit, check_rate
from conveyor._names import check_no_control, check_queue
from conveyor._retries import Backoff
from conveyor._sequence import ON_DEAD_BLOCK, SequenceTemplate, check_sequence_options
from conveyor._unique import UniqueTemplate, check_unique_key, to_unique_for
from conveyor.errors import ArgumentError, ConfigurationError
from conveyor.middleware import Enqueueing, not_enqueued
from conveyor.models import ON_DEAD, SEQUENCE, STALL_AFTER
from conveyor.store.protocol import JobBatch, NewJob

if TYPE_CHECKING:
    from conveyor.app import Conveyor

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_QUEUE = "default"
DEFAULT_RETRIES = 3
class Unset(enum.Enum):
    """The type of :data:`UNSET`."""

    UNSET = "unset"


UNSET = Unset.UNSET
"""``timeout=`` left out of a declaration: the app's ``default_timeout`` applies. Passing
``timeout=None`` instead says, explicitly, that the job has no timeout."""

DEFAULT_MAX_SNOOZES = 100
"""How often a job may ``Snooze`` unless its type says otherwise (docs/retries.md, "Snooze")."""
MAX_PRIORITY = 1_000_000


def _exception_types(value: object, what: str) -> tuple[type[BaseException], ...]:
    items = value if isinstance(value, tuple | list) else (value,)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise ConfigurationError(f"{what} takes exception classes, got {item!r}")
    return tuple(items)


MAX_TENANT_LENGTH = 200


def check_tenant(tenant: object) -> str | None:
    """Return a valid tenant (a non-empty string, or None for no tenant) or raise."""
    if tenant is None:
        return None
    if not isinstance(tenant, str) or not tenant.strip():
        raise ConfigurationError(
            f"tenant must be a non-empty string naming whose work this is (e.g. an account "
            f"id as text), got {tenant!r}"
        )
    if len(tenant) > MAX_TENANT_LENGTH:
        raise ConfigurationError(
            f"tenant {tenant[:40]!r}... is longer than {MAX_TENANT_LENGTH} characters"
        )
    return check_no_control(tenant, "tenant")


MAX_NOTIFY_URL_LENGTH = 2000


def check_notify_url(url: object, allow: AllowList | None = None) -> str | None:
    """Return a valid ``notify_url`` (an absolute http(s) URL, or None for none) or raise
    :class:`ConfigurationError`: also for credentials in it, or a host that is a literal
    non-public address (127.0.0.1, 10.x, 169.254.169.254, 0.0.0.0, 2130706433, ...) not in
    ``allow`` (the app's ``webhook_allow``)."""
    if url is None:
        return None
    if not isinstance(url, str):
        raise ConfigurationError(f"notify_url must be a URL string, got {url!r}")
    if len(url) > MAX_NOTIFY_URL_LENGTH:
        raise ConfigurationError(
            f"notify_url {url[:40]!r}... is longer than {MAX_NOTIFY_URL_LENGTH} characters"
        )
    parts = urlsplit(url)
    valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    valid = valid and url.isprintable() and " " not in url
    try:
        parts.port  # noqa: B018 - reading it validates the port
    except ValueError:
        valid = False
    if not valid:
        raise ConfigurationError(
            f"notify_url {url!r} must be an absolute http:// or https:// URL without spaces, "
            "e.g. 'https://example.com/hooks/conveyor'"
        )
    problem = url_problem(url, allow or AllowList())
    if problem is not None:
        advice = (
            "send a token in the query string instead, or sign webhooks (webhook_secret)"
            if problem.startswith(CREDENTIALS)
            else "to reach an internal receiver, allow it: Conveyor(webhook_allow=[...]) or "
            f"{ALLOW_ENV} (a network such as '10.0.0.0/8', or the host name)"
        )
        raise ConfigurationError(f"notify_url {redacted(url)!r} {problem}; {advice}")
    return url


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
    timeout_explicit: bool = False
    """True when the declaration said ``timeout=`` (a duration, or None for no timeout); False
    when it left it out, and the app's ``default_timeout`` applies."""
    retry_on: tuple[type[BaseException], ...] = ()
    """When set, only these exception types are retried; any other sends the job to dead."""
    give_up_on: tuple[type[BaseException], ...] = ()
    """Exception types that send the job straight to dead."""
    unique: str | None = None
    """Key template (``"charge:{order_id}"``); checked against the handler when it registers."""
    unique_for: float | None = None
    """Seconds a succeeded job keeps holding its key; negative means forever (conveyor._unique)."""
    limit: Concurrency | None = None
    """Cluster-wide concurrency limit (conveyor._limits); the key is checked at registration."""
    rate: Rate | None = None
    """Cluster-wide start-rate limit (conveyor._limits)."""
    max_snoozes: int | None = DEFAULT_MAX_SNOOZES
    """How often one job may ``Snooze`` before it goes to dead; None for no cap."""
    on: tuple[str, ...] = ()
    """The events this job type subscribes to: ``app.publish(event, ...)`` enqueues it."""
    stall_after: float | None = None
    """Seconds a running job's progress may stand still before it is flagged stalled."""
    sequence: str | None = None
    """Sequence key template (``"acct:{account_id}"``): jobs of one key run one at a time, in
    enqueue order (conveyor._sequence); checked against the handler when it registers."""
    on_dead: str = ON_DEAD_BLOCK
    """What a dead job of a sequence does to the jobs behind it: ``block`` or ``continue``."""

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
        timeout: Duration | Unset | None = UNSET,
        retry_on: object = (),
        give_up_on: object = (),
        unique: str | None = None,
        unique_for: object = None,
        limit: object = None,
        rate: object = None,
        max_snoozes: object = DEFAULT_MAX_SNOOZES,
        on: object = None,
        stall_after: Duration | None = None,
        sequence: str | None = None,
        on_dead: object = ON_DEAD_BLOCK,
    ) -> JobOptions:
        """Validate raw decorator arguments; raise :class:`ConfigurationError` on any mistake."""
        if unique is not None and (not isinstance(unique, str) or not unique):
            raise ConfigurationError(
                f"unique= takes a non-empty key template such as 'charge:{{order_id}}', "
                f"got {unique!r}"
            )
        hold = to_unique_for(unique_for)
        if hold is not None and unique is None:
            raise ConfigurationError(
                "unique_for= needs unique= too: it says how long a succeeded job keeps its "
                "unique key, so declare the key template, e.g. unique='charge:{order_id}'"
            )
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(
                f"retries must be a whole number of retries, 0 or more, got {retries!r}"
            )
        if backoff is not None and not isinstance(backoff, Backoff):
            raise ConfigurationError(
                f"backoff must be a conveyor.Backoff(base=..., cap=...), got {backoff!r}"
            )
        if max_snoozes is not None and (
            isinstance(max_snoozes, bool) or not isinstance(max_snoozes, int) or max_snoozes < 0
        ):
            raise ConfigurationError(
                f"max_snoozes must be a whole number, 0 or more (or None for no cap), "
                f"got {max_snoozes!r}"
            )
        explicit = timeout is not UNSET
        seconds = None if timeout is None or timeout is UNSET else to_seconds(
            timeout, what="timeout"
        )
        if seconds == 0:
            raise ConfigurationError(
                "timeout must be positive; pass timeout=None for a job with no timeout"
            )
        stall = None if stall_after is None else to_seconds(stall_after, what="stall_after")
        if stall == 0:
            raise ConfigurationError(
                "stall_after must be longer than zero (e.g. stall_after='5m'); leave it out "
                "to never flag the job as stalled"
            )
        check_sequence_options(sequence, on_dead)
        return cls(
            queue=check_queue(queue),
            priority=check_priority(priority),
            retries=retries,
            backoff=backoff or Backoff(),
            timeout=seconds,
            timeout_explicit=explicit,
            retry_on=_exception_types(retry_on, "retry_on"),
            give_up_on=_exception_types(give_up_on, "give_up_on"),
            unique=unique,
            unique_for=hold,
            limit=check_limit(limit),
            rate=check_rate(rate),
            max_snoozes=max_snoozes,
            on=check_event_names(on),
            stall_after=stall,
            sequence=sequence,
            on_dead=str(on_dead),
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
        if not options.timeout_explicit and app.default_timeout is not None:
            options = dataclasses.replace(options, timeout=app.default_timeout)
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)
        self.args = ArgsSpec(fn, name)
        self.unique: UniqueTemplate | None = None
        """The unique key template, checked against the handler's parameters now."""
        named = tuple(
            p.name
            for p in self.args.signature.parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD
        )
        if options.unique is not None:
            self.unique = UniqueTemplate(options.unique, name, named)
        self.sequence: SequenceTemplate | None = None
        """The sequence key template, checked against the handler's parameters now."""
        if options.sequence is not None:
            self.sequence = SequenceTemplate(options.sequence, name, named)
        self.limit_key: LimitKey | None = None
        """The concurrency limit's key template (None: no concurrency limit)."""
        if options.limit is not None:
            self.limit_key = LimitKey(options.limit.key, "limit", name, named)
        self.rate_key: LimitKey | None = None
        """The rate limit's key template (None: no rate limit)."""
        if options.rate is not None:
            self.rate_key = LimitKey(options.rate.key, "rate", name, named)
        self.in_run = False
        """True for a pipeline stage's job: its completions advance its run (set by the
        pipeline that declares it)."""
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<job {self.name} queue={self.options.queue}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def prepare(self, *args: Any, **kwargs: Any) -> NewJob:
        """Validate arguments and options into a job ready to insert (nothing is written),
        and run the app's enqueue middleware on it (``on_enqueue``): hand the job to
        ``app.enqueue_many`` next, which runs their ``after_enqueue`` once it is written. To
        check a call without enqueuing it, use :meth:`validate`.

        Options: ``delay`` (seconds or duration), ``run_at`` (datetime), ``priority``,
        ``queue``, ``unique_key`` (a literal key, overriding the declared template) and
        ``unique_for`` (see docs/unique-jobs.md), ``tenant`` (whose work this is: claims take
        turns between tenants, see docs/queues.md), ``notify_url`` (POSTed a signed JSON
        summary when the job finishes, see docs/notifications.md), ``expires_in`` (a duration
        after the job is due) or ``start_by`` (an aware datetime): the job must start by then,
        or it ends ``cancelled`` as expired and never runs late (docs/queues.md, "Start
        deadlines"). Raises
        :class:`ArgumentError` or :class:`ConfigurationError`.
        """
        return self._build(args, kwargs, observe=True)

    def validate(self, *args: Any, **kwargs: Any) -> NewJob:
        """Check a call as :meth:`prepare` does and return the job it would write, without
        running enqueue middleware: for callers that only validate arguments or need their
        encoded form (no producer span is started, no enqueue counted). Raises as
        :meth:`prepare` does."""
        return self._build(args, kwargs, observe=False)

    def observe(self, job: NewJob) -> NewJob:
        """Run the app's enqueue middleware on ``job`` (made by :meth:`validate`) now that it
        is about to be written: the job with their headers and what they saw. Nothing to do,
        and ``job`` itself, without middleware."""
        if not self.app.middleware:
            return job
        seen = Enqueueing(job.name, job.queue, job.tenant)
        self.app.middleware.enqueue(seen)
        if not seen.headers:
            return dataclasses.replace(job, enqueueing=seen)
        meta = json.loads(job.meta_json)
        meta["headers"] = seen.headers
        return dataclasses.replace(job, meta_json=json.dumps(meta), enqueueing=seen)

    def _build(self, args: tuple[Any, ...], kwargs: dict[str, Any], *, observe: bool) -> NewJob:
        """:meth:`prepare` (``observe``: with enqueue middleware) or :meth:`validate`."""
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in _OPTION_NAMES}
        for whole in _CALL_OPTIONS.intersection(options):
            # Silently dropping it would enqueue outside the caller's transaction, or not wait.
            raise ConfigurationError(
                f"{whole}= applies to a whole enqueue call, not to one prepared job: pass it to "
                f"enqueue(...), enqueue_many(..., {whole}=...) or app.enqueue_many(...)"
            )
        args_json = self.args.encode(args, kwargs, self.app.max_payload_bytes)
        unique_key, unique_for = self._unique(args, kwargs, options)
        tenant = check_tenant(options.get("tenant"))
        limit_key, rate_key = self._limit_keys(args, kwargs, tenant)
        notify_url = check_notify_url(options.get("notify_url"), self.app.webhook_allow)
        run_at = _run_at(options.get("run_at"))
        start_by, expires_in = _start_deadline(options, run_at)
        queue = check_queue(options.get("queue", self.options.queue))
        meta: dict[str, Any] = {} if notify_url is None else {"notify_url": notify_url}
        if self.options.stall_after is not None:
            # Kept with the job, so the CLI, dashboard and monitor judge it without the app.
            meta[STALL_AFTER] = self.options.stall_after
        sequence_key = None
        if self.sequence is not None:
            bound = self.args.signature.bind(*args, **kwargs)
            bound.apply_defaults()
            sequence_key = self.sequence.fill(bound.arguments)
            # In meta too: the worker marks the completion (the store then releases the next
            # job of the key), and the CLI and dashboard show the key without a column read.
            meta[SEQUENCE] = sequence_key
            meta[ON_DEAD] = self.options.on_dead
        priority = check_priority(options.get("priority", self.options.priority))
        delay = to_seconds(options.get("delay", 0.0), what="delay")
        # Middleware runs last, once nothing can fail: what on_enqueue starts (a span) is
        # ended by after_enqueue, which only a job that reaches an enqueue call gets.
        seen: Enqueueing | None = None
        if observe and self.app.middleware:
            seen = Enqueueing(self.name, queue, tenant)
            self.app.middleware.enqueue(seen)
            if seen.headers:
                meta["headers"] = seen.headers
        return NewJob(
            queue=queue,
            name=self.name,
            args_json=args_json,
            max_attempts=self.options.max_attempts,
            priority=priority,
            run_at=run_at,
            delay=delay,
            timeout=self.options.timeout,
            unique_key=unique_key,
            unique_for=unique_for,
            tenant=tenant,
            limit_key=limit_key,
            limit_max=self.options.limit.max if self.options.limit else None,
            rate_key=rate_key,
            rate_max=self.options.rate.max if self.options.rate else None,
            rate_per=self.options.rate.seconds if self.options.rate else None,
            meta_json=json.dumps(meta) if meta else "{}",
            start_by=start_by,
            expires_in=expires_in,
            sequence_key=sequence_key,
            sequence_blocks=self.options.on_dead == ON_DEAD_BLOCK,
            enqueueing=seen,
        )

    @property
    def limited(self) -> bool:
        """True when this job type has a concurrency or rate limit (claimed by a limited pass)."""
        return self.limit_key is not None or self.rate_key is not None

    def _limit_keys(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], tenant: str | None
    ) -> tuple[str | None, str | None]:
        """The keys this call counts against for its concurrency and rate limits."""
        if self.limit_key is None and self.rate_key is None:
            return None, None
        bound = self.args.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return (
            None if self.limit_key is None else self.limit_key.fill(bound.arguments, tenant),
            None if self.rate_key is None else self.rate_key.fill(bound.arguments, tenant),
        )

    def _unique(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]
    ) -> tuple[str | None, float | None]:
        """The call's unique key (per-call literal, else the filled template) and its hold."""
        key: str | None = None
        if "unique_key" in options:
            key = check_unique_key(options["unique_key"])
        elif self.unique is not None:
            # encode() already checked the call binds, so bind() cannot fail here.
            bound = self.args.signature.bind(*args, **kwargs)
            bound.apply_defaults()
            key = self.unique.fill(bound.arguments)
        if "unique_for" not in options:
            return key, self.options.unique_for if key is not None else None
        hold = to_unique_for(options["unique_for"])
        if key is None and hold is not None:
            raise ConfigurationError(
                f"enqueue(unique_for=...) on job {self.name!r} needs a unique key: declare "
                "@app.job(unique='...') or pass unique_key='...'"
            )
        return key, hold

    def enqueue(self, *args: Any, **kwargs: Any) -> JobHandle:
        """Enqueue one job from sync code; returns its handle once it is written.

        ``connection=conn`` writes it inside that connection's open transaction instead.
        ``wait_for_room="30s"`` waits that long for room in a queue at its ``max_queued``.
        """
        connection = kwargs.pop("connection", None)
        room = kwargs.pop("wait_for_room", None)
        prepared = [self.prepare(*args, **kwargs)]
        return self.app.enqueue_many(prepared, connection=connection, wait_for_room=room)[0]

    async def enqueue_async(self, *args: Any, **kwargs: Any) -> JobHandle:
        """Enqueue one job from async code without blocking the event loop."""
        connection = kwargs.pop("connection", None)
        room = kwargs.pop("wait_for_room", None)
        prepared = [self.prepare(*args, **kwargs)]
        handles = await self.app.enqueue_many_async(
            prepared, connection=connection, wait_for_room=room
        )
        return handles[0]

    def enqueue_many(
        self, calls: Iterable[Mapping[str, Any]], **options: Any
    ) -> list[JobHandle]:
        """Enqueue many jobs of this type in one transaction: all are written or none.

        ``calls`` is an iterable of keyword-argument dicts; ``options`` apply to every job.
        """
        connection = options.pop("connection", None)
        room = options.pop("wait_for_room", None)
        prepared = self._prepare_all(calls, options)
        return self.app.enqueue_many(prepared, connection=connection, wait_for_room=room)

    async def enqueue_many_async(
        self, calls: Iterable[Mapping[str, Any]], **options: Any
    ) -> list[JobHandle]:
        """The async twin of :meth:`enqueue_many`."""
        connection = options.pop("connection", None)
        room = options.pop("wait_for_room", None)
        prepared = self._prepare_all(calls, options)
        return await self.app.enqueue_many_async(
            prepared, connection=connection, wait_for_room=room
        )

    def _prepare_all(
        self, calls: Iterable[Mapping[str, Any]], options: dict[str, Any]
    ) -> Sequence[NewJob]:
        """Every call prepared: a :class:`JobBatch` when they differ only in their arguments
        (decision 124), else a list. Raises as :meth:`prepare` does, naming the item."""
        items: Iterator[Mapping[str, Any]] = iter(calls)
        prepared: list[NewJob] = []
        if self._lean_batch(options):
            batch, rest = self._prepare_uniform(items, options)
            if not rest:
                return batch
            # An item sets its own options: the jobs before it are built, and the rest of the
            # batch is prepared job by job.
            prepared = list(batch)
            items = itertools.chain(rest, items)
        try:
            self._prepare_into(prepared, items, options, len(prepared))
        except BaseException as exc:
            # The items prepared so far will never be written: end what middleware began.
            not_enqueued(prepared, exc)
            raise
        return prepared

    def _prepare_uniform(
        self, items: Iterator[Mapping[str, Any]], options: dict[str, Any]
    ) -> tuple[Sequence[NewJob], list[Mapping[str, Any]]]:
        """Prepare items while each differs from the first only in its arguments: the first
        is checked in full, every later one only has its arguments checked and encoded (the
        options are the same, so checking them again would only cost: about half of a bulk
        enqueue's client CPU once went there). Returns the batch so far and, if an item sets
        its own options (or is not a dict), that item, which this did not prepare."""
        template: NewJob | None = None
        encoded: list[str] = []
        encode = self.args.encode_call
        max_bytes = self.app.max_payload_bytes
        for index, call in enumerate(items):
            if type(call) is not dict or not _OPTION_NAMES.isdisjoint(call):
                return _uniform(template, encoded), [call]
            try:
                if template is None:
                    template = self.prepare(**call, **options)
                    encoded.append(template.args_json)
                else:
                    encoded.append(encode(call, max_bytes))
            except ArgumentError as exc:
                raise ArgumentError(f"item {index}: {exc}") from exc
        return _uniform(template, encoded), []

    def _prepare_into(
        self,
        prepared: list[NewJob],
        calls: Iterable[Mapping[str, Any]],
        options: dict[str, Any],
        first: int = 0,
    ) -> None:
        """Prepare each call into ``prepared`` (a list the caller owns, so it can settle the
        jobs already prepared when a later item fails); ``first`` is the first call's index
        in the whole batch (for error messages). Each call is checked in full: batches whose
        items differ only in their arguments take :meth:`_prepare_uniform` instead."""
        for index, call in enumerate(calls, first):
            if not isinstance(call, Mapping):
                raise ArgumentError(
                    f"enqueue_many takes keyword-argument dicts; item {index} is "
                    f"{type(call).__name__}"
                )
            try:
                twice = options.keys() & call.keys()
                if twice:
                    raise ArgumentError(
                        f"sets {', '.join(sorted(twice))} and so does the enqueue_many call (for "
                        "every job): give each in one place, per item or for the whole batch"
                    )
                prepared.append(self.prepare(**call, **options))
            except ArgumentError as exc:
                raise ArgumentError(f"item {index}: {exc}") from exc

    def _lean_batch(self, options: dict[str, Any]) -> bool:
        """True when every job of a batch with these ``options`` differs only in its arguments:
        ``options`` are all enqueue options (no shared handler argument), and no key (unique,
        sequence, limit, rate) nor enqueue middleware derives anything per job."""
        return (
            _OPTION_NAMES.issuperset(options)
            and self.unique is None
            and "unique_key" not in options
            and self.sequence is None
            and not self.limited
            and not self.app.middleware
        )


def _uniform(template: NewJob | None, encoded: list[str]) -> Sequence[NewJob]:
    """The jobs ``_prepare_uniform`` prepared: a batch sharing ``template``'s options."""
    return [] if template is None else JobBatch(template, encoded)


_OPTION_NAMES = RESERVED
"""Keyword names ``enqueue`` takes as options rather than as the handler's arguments."""
_CALL_OPTIONS = frozenset({"connection", "wait_for_room"})
"""Options of a whole enqueue call (the transaction, the wait), never of one job."""


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


def _start_deadline(
    options: dict[str, Any], run_at: float | None
) -> tuple[float | None, float | None]:
    """``(start_by, expires_in)`` in seconds from the enqueue options, checked."""
    if "expires_in" in options and "start_by" in options:
        raise ConfigurationError(
            "pass expires_in= (a duration after the job is due) or start_by= (a time), not both"
        )
    if options.get("expires_in") is not None:
        seconds = to_seconds(options["expires_in"], what="expires_in")
        if seconds == 0:
            raise ConfigurationError(
                "expires_in must be positive, such as '10m': a job must have some time to start"
            )
        return None, seconds
    start_by = options.get("start_by")
    if start_by is None:
        return None, None
    if not isinstance(start_by, datetime) or start_by.tzinfo is None:
        raise ConfigurationError(
            f"start_by must be a timezone-aware datetime (e.g. datetime.now(timezone.utc) + "
            f"timedelta(minutes=10)), got {start_by!r}"
        )
    deadline = start_by.timestamp()
    if run_at is not None and deadline <= run_at:
        raise ConfigurationError(
            f"start_by ({start_by.isoformat()}) is not after run_at: the job could never start; "
            "move start_by later or run_at earlier"
        )
    return deadline, None


Handler = Callable[..., Any] | Callable[..., Awaitable[Any]]
