"""What OpenTelemetryMiddleware stores in a job's headers, without a store."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import TextMapPropagator, default_setter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from conveyor.middleware import Enqueueing, MiddlewareChain
from conveyor.otel import OpenTelemetryMiddleware


def enqueue(middleware: OpenTelemetryMiddleware) -> dict[str, str]:
    """The headers one enqueue through ``middleware`` stores."""
    chain = MiddlewareChain([middleware])
    job = Enqueueing("send_receipt", "mail", None)
    chain.enqueue(job)
    assert not chain.errors
    return job.headers


def test_a_no_op_provider_stores_nothing_unless_a_span_is_current() -> None:
    middleware = OpenTelemetryMiddleware(trace.NoOpTracerProvider())
    assert enqueue(middleware) == {}
    sdk = TracerProvider()
    with sdk.get_tracer("web").start_as_current_span("GET /") as request:
        headers = enqueue(middleware)
    sdk.shutdown()
    context = request.get_span_context()
    # The no-op span carries the current span's context: that is what travels.
    assert headers == {
        "traceparent":
            f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    }


class Prefixed(TextMapPropagator):
    """W3C trace context under an ``x-`` prefix: a propagator of one's own."""

    inner = TraceContextTextMapPropagator()

    def inject(
        self, carrier: Any, context: Context | None = None, setter: Any = default_setter
    ) -> None:
        """Write the W3C fields, each under ``x-``."""
        plain: dict[str, str] = {}
        self.inner.inject(plain, context=context)
        for key, value in plain.items():
            setter.set(carrier, f"x-{key}", value)

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        """Read the W3C fields back from under ``x-``."""
        plain = {key[2:]: value for key, value in carrier.items() if key.startswith("x-")}
        return self.inner.extract(plain, context=context)

    @property
    def fields(self) -> set[str]:
        """The header names it writes."""
        return {f"x-{name}" for name in self.inner.fields}


def test_a_given_propagator_writes_the_headers() -> None:
    sdk = TracerProvider()
    headers = enqueue(OpenTelemetryMiddleware(sdk, propagator=Prefixed()))
    sdk.shutdown()
    assert list(headers) == ["x-traceparent"]
    assert headers["x-traceparent"].startswith("00-")
