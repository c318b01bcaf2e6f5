"""An app whose scheduled job fails until a flag file exists, watched by the workers' monitors.

The monitors deliver to the loopback webhook whose URL the test passes in ``IT_HOOK_URL``.
"""

import os
from pathlib import Path

from conveyor import Conveyor, Permanent
from conveyor.monitor import LogSink, WebhookSink

app = Conveyor()
app.configure_monitor(
    rules=[],  # only the built-in missed-run check: the other rules have their own tests
    sinks=[
        LogSink(),
        # The test's receiver is on loopback, which a webhook reaches only when allowed.
        WebhookSink(os.environ["IT_HOOK_URL"], secret="it-secret", allow=["127.0.0.1"]),
    ],
    interval="300ms",
    reminder=None,
)


@app.every("1s", name="nightly", grace="1s", retries=0)
def nightly(ctx) -> dict:
    if not Path(os.environ["IT_FLAG"]).exists():
        raise Permanent("the report source is down")
    return {"rows": 1}
