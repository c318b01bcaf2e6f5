"""Entry point of one worker process, started by the supervisor.

Started as ``python -m conveyor.worker APP_SPEC WORKER_ID CONFIG_JSON`` (see ``__main__``).
The supervisor controls it through its standard input, not signals: a Ctrl-C reaches the whole
process group and systemd signals every process of a service, and only the supervisor should
decide. ``drain`` stops claiming and lets running jobs finish; ``stop`` (or a second ``drain``)
hands them back at once; end of input (the supervisor died) drains.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import asdict

from conveyor._loading import load_app
from conveyor._logformat import setup_logging
from conveyor.errors import ConveyorError
from conveyor.worker.claim_loop import WorkerProcess
from conveyor.worker.config import WorkerConfig

EXIT_CONFIG = 78


def encode_config(config: WorkerConfig) -> str:
    """The config as a command-line argument."""
    return json.dumps(asdict(config))


def decode_config(text: str) -> WorkerConfig:
    """Inverse of :func:`encode_config`."""
    raw = json.loads(text)
    raw["queues"] = tuple(raw["queues"])
    return WorkerConfig(**raw)


async def _serve(worker: WorkerProcess) -> int:
    loop = asyncio.get_running_loop()

    def command(line: str) -> None:
        # "drain" lets running jobs finish; "stop" (or a second "drain") releases them now.
        worker.request_stop(immediate=line == "stop" or worker.stopping)

    def listen() -> None:
        for raw in sys.stdin:
            loop.call_soon_threadsafe(command, raw.strip())
        # End of input: the supervisor is gone (even kill -9). Drain rather than run orphaned.
        loop.call_soon_threadsafe(command, "drain")

    threading.Thread(target=listen, name="conveyor-control", daemon=True).start()
    return await worker.run()


def main(argv: list[str]) -> int:
    """Run one worker process; returns its exit code."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    app_spec, worker_id, config_json = argv
    setup_logging(worker_id)
    try:
        app = load_app(app_spec)
        config = decode_config(config_json)
    except ConveyorError as exc:
        logging.getLogger("conveyor.worker").error("cannot start: %s", exc)
        return EXIT_CONFIG
    worker = WorkerProcess(app, config, worker_id)
    worker.freezes_start_up = True  # a process of its own: its start-up is all it froze
    return asyncio.run(_serve(worker))


def exit_process(code: int) -> None:
    """Flush output and leave at once.

    Threads of sync jobs that ignored their deadline cannot be joined, so a normal interpreter
    exit could hang on them; everything that matters was written before this point, but the
    spans a tracing middleware still buffers (the SDK flushes them at exit, which this skips).
    """
    if "conveyor.otel" in sys.modules:  # the app traces: export the spans still buffered
        from conveyor.otel import flush_spans

        flush_spans()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

