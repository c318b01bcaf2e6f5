"""The tracing middleware reads the W3C headers it writes itself without the propagator
(for speed, decision 121): whatever the headers, the parent context it starts an attempt's span
in must be the one the propagator's ``extract`` gives, invalid and odd headers included."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from conveyor import otel
from conveyor.otel import OpenTelemetryMiddleware

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
CANONICAL = f"00-{TRACE}-{SPAN}-01"

HEX = "0123456789abcdef"
hex_text = st.text(alphabet=HEX, min_size=0, max_size=34)
noise = st.text(alphabet=HEX + "ABCDEFxz-_ \t\n+0", max_size=6)


@st.composite
def traceparents(draw: st.DrawFn) -> str:
    """Mostly well-formed ``traceparent`` values, with one part changed now and then."""
    version = draw(st.sampled_from(["00", "00", "00", "01", "ff", "0", "0A", "cc"]))
    trace_id = draw(st.sampled_from([TRACE, "0" * 32, TRACE.upper(), TRACE[:31]]) | hex_text)
    span_id = draw(st.sampled_from([SPAN, "0" * 16, SPAN.upper()]) | hex_text)
    flags = draw(st.sampled_from(["01", "00", "ff", "1", "0x", "7f"]))
    value = f"{version}-{trace_id}-{span_id}-{flags}"
    return draw(noise) * draw(st.booleans()) + value + draw(noise) * draw(st.booleans())


tracestates = st.sampled_from(
    ["", "congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "bad", "a=1,a=2",
     "k=" + "v" * 600, " spaced = out ", "x@y=1,tenant@vendor=2"]
) | st.text(alphabet="abc=,@ -", max_size=12)

headers_strategy = st.fixed_dictionaries(
    {},
    optional={
        "traceparent": traceparents() | st.text(max_size=60),
        "tracestate": tracestates,
        "baggage": st.sampled_from(["", "user=7", "a=1,b=2;prop"]),
        "other": st.text(max_size=5),
    },
)


def described(context: Context) -> dict[str, Any]:
    """What a context holds that a span started in it (or the handler) can see."""
    span = trace.get_current_span(context)
    sent = span.get_span_context()
    return {
        "keys": len(context),
        "span_type": type(span),
        "span_context": sent,
        "trace_state": list(sent.trace_state.items()),
        "baggage": dict(baggage.get_all(context)),
    }


def check_same(
    middleware: OpenTelemetryMiddleware, propagator: Any, headers: dict[str, str]
) -> None:
    """The middleware's parent context for ``headers`` is ``propagator``'s."""
    expected = propagator.extract(headers)
    parent, sent = middleware._parent(dict(headers))
    assert described(parent) == described(expected)
    assert sent == trace.get_current_span(expected).get_span_context()


@settings(max_examples=600, deadline=None)
@given(headers=headers_strategy)
@example(headers={"traceparent": CANONICAL})
@example(headers={"traceparent": CANONICAL, "tracestate": "congo=t61rcWkgMzE"})
@example(headers={"traceparent": CANONICAL + "\n"})
@example(headers={"traceparent": " " + CANONICAL})
@example(headers={"traceparent": CANONICAL + "-extra"})
@example(headers={"traceparent": f"01-{TRACE}-{SPAN}-01-extra"})
@example(headers={"tracestate": "congo=t61rcWkgMzE"})
@example(headers={})
def test_the_parent_context_is_the_default_propagators(headers: dict[str, str]) -> None:
    check_same(OpenTelemetryMiddleware(), propagate.get_global_textmap(), headers)


@settings(max_examples=200, deadline=None)
@given(headers=headers_strategy)
def test_the_parent_context_is_a_given_w3c_propagators(headers: dict[str, str]) -> None:
    for propagator in (
        TraceContextTextMapPropagator(),
        CompositePropagator([TraceContextTextMapPropagator()]),
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]),
        # Baggage first starts from the current context: never read in the middleware's stead.
        CompositePropagator([W3CBaggagePropagator(), TraceContextTextMapPropagator()]),
    ):
        check_same(OpenTelemetryMiddleware(propagator=propagator), propagator, headers)


def test_canonical_headers_are_read_without_the_propagator() -> None:
    found = otel._w3c_parent({"traceparent": CANONICAL, "tracestate": "congo=t61rcWkgMzE"})
    assert found is not None
    parent, sent = found
    assert (f"{sent.trace_id:032x}", f"{sent.span_id:016x}") == (TRACE, SPAN)
    assert sent.is_remote and sent.trace_flags.sampled and sent.is_valid
    assert dict(sent.trace_state) == {"congo": "t61rcWkgMzE"}
    assert trace.get_current_span(parent).get_span_context() is sent
    # Anything else is left to the propagator.
    for headers in (
        {"traceparent": CANONICAL, "baggage": "user=7"},
        {"traceparent": CANONICAL.upper()},
        {"traceparent": f"00-{'0' * 32}-{SPAN}-01"},
        {"traceparent": CANONICAL, "tracestate": "k=" + "v" * 600},
    ):
        assert otel._w3c_parent(headers) is None


class Recording(TextMapPropagator):
    """A propagator of one's own: W3C trace context, counting its extracts."""

    def __init__(self) -> None:
        self.inner = TraceContextTextMapPropagator()
        self.calls = 0

    def extract(self, carrier: Any, context: Context | None = None, getter: Any = None) -> Context:
        """Count, then extract as W3C does."""
        self.calls += 1
        return self.inner.extract(carrier, context=context)

    def inject(self, carrier: Any, context: Context | None = None, setter: Any = None) -> None:
        """Not used here."""

    @property
    def fields(self) -> set[str]:
        """The W3C header names."""
        return self.inner.fields


class Subclassed(TraceContextTextMapPropagator):
    """A subclass may read differently: it is asked, not bypassed."""


@pytest.mark.parametrize("propagator", [Recording(), Subclassed()])
def test_other_propagators_are_always_asked(propagator: TextMapPropagator) -> None:
    middleware = OpenTelemetryMiddleware(propagator=propagator)
    assert not otel._is_w3c(propagator)
    check_same(middleware, propagator, {"traceparent": CANONICAL})
    if isinstance(propagator, Recording):
        assert propagator.calls == 2  # once by the middleware, once by check_same


def test_a_changed_global_propagator_is_noticed() -> None:
    before = propagate.get_global_textmap()
    recording = Recording()
    middleware = OpenTelemetryMiddleware()
    middleware._parent({"traceparent": CANONICAL})
    propagate.set_global_textmap(recording)
    try:
        middleware._parent({"traceparent": CANONICAL})
    finally:
        propagate.set_global_textmap(before)
    assert recording.calls == 1
