"""OpenTelemetry tracing of jobs: a producer span at enqueue, a consumer span per attempt.

``Conveyor(middleware=[OpenTelemetryMiddleware()])`` follows the OpenTelemetry messaging
semantic conventions (the queue is the destination, the job id the message id):

* at enqueue, a ``PRODUCER`` span ``send {queue}``, a child of whatever span is current (the
  web request's), whose context is written into the job's headers with the propagator
  (``traceparent``, ``tracestate`` and ``baggage`` with the default W3C propagators); it
  starts as the job is prepared and ends once the write is decided, carrying the job id
  (``messaging.message.id``), or an error status when the write failed;
* around each attempt, a ``CONSUMER`` span ``process {queue}`` whose parent is that stored
  context and which also links to it, carrying the job id, name, attempt number and outcome;
  a failed attempt gets an error status and an ``exception`` event. The span is the current
  span while the handler runs (``def`` and ``async def`` handlers alike), so spans the handler
  starts are its children.

The headers live with the job, so its retries and a replay from the dead-letter queue (the same
job, headers kept) land in the same trace as the request that enqueued it.

Needs the ``otel`` extra (``pip install 'conveyor[otel]'``, i.e. ``opentelemetry-api``); spans
go wherever your tracer provider exports them (``opentelemetry-sdk`` and an exporter).
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING

try:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.context import Context
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace import (
        Link,
        NonRecordingSpan,
        SpanContext,
        SpanKind,
        Status,
        StatusCode,
        TraceFlags,
        TraceState,
    )
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "conveyor.otel needs the opentelemetry-api package: pip install 'conveyor[otel]' "
        "(or pip install opentelemetry-api), or remove OpenTelemetryMiddleware from "
        "your app's middleware"
    ) from None

from conveyor.middleware import (
    AttemptEnd,
    AttemptStart,
    AttemptStatus,
    CallNext,
    Enqueueing,
    Middleware,
)

if TYPE_CHECKING:
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.util.types import AttributeValue

SYSTEM = "conveyor"
"""The ``messaging.system`` of every span."""

FLUSH_TIMEOUT = 5.0
"""Seconds :func:`flush_spans` waits for the exporters when a worker process exits."""

_FAILED = frozenset({AttemptStatus.RETRYING, AttemptStatus.DEAD})
_IN_USE: weakref.WeakSet[OpenTelemetryMiddleware] = weakref.WeakSet()


class OpenTelemetryMiddleware(Middleware):
    """Traces jobs with OpenTelemetry: a producer span per enqueue, a consumer span per attempt.

    ``tracer_provider``: where spans go (default: the global one, as set by
    ``opentelemetry.trace.set_tracer_provider``). ``propagator``: how the trace context is
    written into and read from the job's headers (default: the global propagator, W3C trace
    context and baggage unless ``OTEL_PROPAGATORS`` says otherwise). Install it in the app
    that enqueues and in the workers' app (usually the same ``Conveyor(...)`` declaration).
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        *,
        propagator: TextMapPropagator | None = None,
    ) -> None:
        from conveyor import __version__

        self.tracer = trace.get_tracer(
            "conveyor", __version__, tracer_provider=tracer_provider
        )
        """The tracer every span of this middleware comes from."""
        self.propagator = propagator
        """The propagator of the trace context, or None for the global one."""
        self.tracer_provider = tracer_provider
        """The provider given, or None for the global one (flushed at a worker's exit)."""
        self._w3c: tuple[object, bool] = (None, False)
        """The propagator last used to read a job's context, and whether it is W3C's alone
        (then :func:`_w3c_parent` reads the usual headers in its stead)."""
        _IN_USE.add(self)

    def on_enqueue(self, job: Enqueueing) -> None:
        """Start a producer span and store its context in the job's headers.

        The span stays open until :meth:`after_enqueue` (the write), which gives it the job
        id; it is kept in ``job.state``.
        """
        # Every attribute at start, in one dict: the SDK cleans and locks once per call, and a
        # no-op tracer ignores them (building the dict costs less than asking it first).
        name, creation = _shape("send", job.queue)
        attributes: dict[str, AttributeValue] = {**creation, "conveyor.job.name": job.name}
        if job.tenant is not None:
            attributes["conveyor.tenant"] = job.tenant
        span = self.tracer.start_span(name, kind=SpanKind.PRODUCER, attributes=attributes)
        try:
            sent = trace.set_span_in_context(span)
            carrier: dict[str, str] = {}
            if self.propagator is None:
                propagate.inject(carrier, context=sent)
            else:
                self.propagator.inject(carrier, context=sent)
            job.headers.update(carrier)
        except BaseException:
            span.end()  # after_enqueue will not find it: end it here
            raise
        job.state[self] = span

    def after_enqueue(self, job: Enqueueing, job_id: int | None) -> None:
        """End the producer span: with ``messaging.message.id`` once the job is written (for
        a unique-key duplicate, the holding job's id and ``conveyor.duplicate``), with an
        error status when the write failed, or with neither when nothing was written."""
        span = job.state.pop(self, None)
        if span is None:
            return
        try:
            if job_id is not None:
                span.set_attribute("messaging.message.id", str(job_id))
            if job.duplicate:
                span.set_attribute("conveyor.duplicate", True)
            if job.error is not None:
                error_type = type(job.error).__qualname__
                span.set_attribute("error.type", error_type)
                span.record_exception(job.error)
                span.set_status(Status(StatusCode.ERROR, f"{error_type}: {job.error}"))
        finally:
            span.end()

    async def around_attempt(self, attempt: AttemptStart, call_next: CallNext) -> AttemptEnd:
        """Run the attempt inside a consumer span whose parent is the job's stored context."""
        ctx = attempt.ctx
        parent, sent = self._parent(ctx.headers)
        # The conventions ask a process span to link to the message's creation context even
        # when that context is also its parent: tools that follow links find every attempt.
        links = [Link(sent)] if sent.is_valid else None
        name, creation = _shape("process", ctx.queue)
        attributes: dict[str, AttributeValue] = {
            **creation,
            "messaging.message.id": str(ctx.job_id),
            "conveyor.job.name": ctx.name,
            "conveyor.attempt": ctx.attempt,
            "conveyor.max_attempts": ctx.max_attempts,
            "conveyor.queue_wait": attempt.queue_wait,
        }
        if ctx.tenant is not None:
            attributes["conveyor.tenant"] = ctx.tenant
        span = self.tracer.start_span(
            name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes, links=links
        )
        recording = span.is_recording()
        # Current while the rest of the chain and the handler run: a sync handler's thread
        # gets a copy of this context from the executor.
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            end = await call_next()
        except BaseException:
            # Only CancelledError reaches here (the chain reports everything else).
            span.set_attribute("conveyor.outcome", "interrupted")
            raise
        else:
            if recording:
                _record_end(span, end)
        finally:
            otel_context.detach(token)
            span.end()
        return end

    def _parent(self, headers: dict[str, str]) -> tuple[Context, SpanContext]:
        """The context stored in ``headers`` as the propagator extracts it, and its span's
        context (invalid when there is none)."""
        propagator = self.propagator
        if propagator is None:
            propagator = propagate.get_global_textmap()
        seen, w3c = self._w3c
        if propagator is not seen:
            w3c = _is_w3c(propagator)
            self._w3c = (propagator, w3c)
        if w3c:
            found = _w3c_parent(headers)
            if found is not None:
                return found
        parent = propagator.extract(headers)
        return parent, trace.get_current_span(parent).get_span_context()


_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
"""A version 00 ``traceparent`` as W3C propagators write it: nothing before, nothing after."""
_NO_TRACE = "0" * 32
_NO_SPAN = "0" * 16
LONGEST_TRACESTATE = 512
"""Longest ``tracestate`` read here (the W3C limit); a longer one is left to the propagator."""
_ROOT = Context()


def _is_w3c(propagator: object) -> bool:
    """True for the W3C trace context propagator, alone or followed by W3C baggage (the
    default global propagator), exactly those classes: their ``extract`` is what
    :func:`_w3c_parent` does. Anything else (another order, more propagators, a subclass)
    is always asked itself."""
    if type(propagator) is TraceContextTextMapPropagator:
        return True
    if type(propagator) is not CompositePropagator:
        return False
    inner = getattr(propagator, "_propagators", None)
    if not isinstance(inner, list | tuple):
        return False
    kinds = [type(item) for item in inner]
    return kinds in (
        [TraceContextTextMapPropagator],
        [TraceContextTextMapPropagator, W3CBaggagePropagator],
    )


def _w3c_parent(headers: dict[str, str]) -> tuple[Context, SpanContext] | None:
    """What W3C trace context's ``extract`` gives for ``headers``, for the headers it writes
    itself; None for anything else (baggage, another version, spaces, upper case, an
    invalid id, an oversized ``tracestate``): the propagator reads those.

    The propagator's extract costs about 8 µs a job (a general regular expression, a getter
    building lists, each propagator in turn); this is about 3, and builds the same context:
    a fresh one holding a non-recording span of the remote span context, ``tracestate``
    parsed by the same ``TraceState.from_header``.
    """
    if "baggage" in headers:
        return None
    value = headers.get("traceparent")
    if value is None:  # the propagator's answer: an empty context, tracestate ignored
        return _ROOT, trace.INVALID_SPAN_CONTEXT
    if type(value) is not str:
        return None
    match = _TRACEPARENT.fullmatch(value)
    if match is None:
        return None
    trace_id, span_id, flags = match.groups()
    if trace_id == _NO_TRACE or span_id == _NO_SPAN:
        return None
    state: TraceState | None = None
    written = headers.get("tracestate")
    if written is not None:
        if type(written) is not str or len(written) > LONGEST_TRACESTATE:
            return None
        state = TraceState.from_header([written])
    sent = SpanContext(
        int(trace_id, 16), int(span_id, 16), True, TraceFlags(int(flags, 16)), state
    )
    return trace.set_span_in_context(NonRecordingSpan(sent), _ROOT), sent


def flush_spans(timeout: float = FLUSH_TIMEOUT) -> None:
    """Export the spans the providers of every ``OpenTelemetryMiddleware`` still buffer.

    A worker process leaves with ``os._exit`` (a thread stuck in a sync job cannot be joined),
    which skips the SDK's own flush at exit: without this, a batch processor would drop the
    spans of the last seconds of every worker. Providers without ``force_flush`` (the API's
    no-op one) are skipped; an exporter's error is the SDK's to report.
    """
    providers: dict[int, trace.TracerProvider] = {}
    for middleware in list(_IN_USE):
        provider = middleware.tracer_provider or trace.get_tracer_provider()
        providers[id(provider)] = provider
    for provider in providers.values():
        force_flush = getattr(provider, "force_flush", None)
        if callable(force_flush):
            force_flush(int(timeout * 1000))


_SHAPES: dict[tuple[str, str], tuple[str, dict[str, AttributeValue]]] = {}
"""Per (operation, queue): the span's name and the attributes it starts with."""
MAX_SHAPES = 1024
"""Queues whose shapes are kept (queue names are few; past this, the cache starts over)."""


def _shape(operation: str, queue: str) -> tuple[str, dict[str, AttributeValue]]:
    """The name of a span of ``operation`` on ``queue`` and the attributes the conventions
    want samplers to see, built once per queue (every span copies them into its own)."""
    shape = _SHAPES.get((operation, queue))
    if shape is None:
        if len(_SHAPES) >= MAX_SHAPES:
            _SHAPES.clear()
        shape = _SHAPES[(operation, queue)] = (f"{operation} {queue}", {
            "messaging.system": SYSTEM,
            "messaging.destination.name": queue,
            "messaging.operation.type": operation,
            "messaging.operation.name": operation,
        })
    return shape


def _record_end(span: trace.Span, end: AttemptEnd) -> None:
    """Write how the attempt ended on its span: outcome, and the error of a failure."""
    span.set_attribute("conveyor.outcome", end.status.value)
    if end.timed_out:
        span.set_attribute("conveyor.timed_out", True)
    if end.status not in _FAILED:
        return
    error_type = end.error_type or "_OTHER"  # the conventions' value for an unknown type
    span.set_attribute("error.type", error_type)
    event: dict[str, AttributeValue] = {"exception.type": error_type}
    if end.error_message is not None:
        event["exception.message"] = end.error_message
    span.add_event("exception", event)
    span.set_status(Status(StatusCode.ERROR, f"{error_type}: {end.error_message or ''}"))
