"""The app of the tracing test: spans batched for a minute, so only a flush at exit sends them."""

import json
import os
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from conveyor import Conveyor
from conveyor.otel import OpenTelemetryMiddleware


class JsonLines(SpanExporter):
    """Appends one JSON object per span to the file named by IT_SPANS_FILE."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        path = os.environ.get("IT_SPANS_FILE")
        if path is None:  # the enqueuing test's copy, after the test: nothing to check
            return SpanExportResult.SUCCESS
        with open(path, "a") as out:
            for span in spans:
                out.write(json.dumps({
                    "pid": os.getpid(),
                    "name": span.name,
                    "trace_id": f"{span.context.trace_id:032x}",
                    "span_id": f"{span.context.span_id:016x}",
                    "parent_id": None if span.parent is None else f"{span.parent.span_id:016x}",
                    "attributes": dict(span.attributes or {}),
                }) + "\n")
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(JsonLines(), schedule_delay_millis=60_000))
app = Conveyor(middleware=[OpenTelemetryMiddleware(provider)])


@app.job(name="t_sync", queue="traced")
def sync_job(ctx, n: int) -> int:
    return n


@app.job(name="t_async", queue="traced")
async def async_job(ctx, n: int) -> int:
    return n
