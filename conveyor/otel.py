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

import weakref
from typing import TYPE_CHECKING

try:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
    from opentelemetry.trace import Link, SpanKind, Status, StatusCode
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
        if self.propagator is None:
            parent = propagate.extract(ctx.headers)
        else:
            parent = self.propagator.extract(ctx.headers)
        sent = trace.get_current_span(parent).get_span_context()
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
