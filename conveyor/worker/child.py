"""Entry point of one worker process, started by the supervisor.

Started as ``python -m conveyor.worker APP_SPEC WORKER_ID CONFIG_JSON`` (see ``__main__``).
SIGINT is ignored (a Ctrl-C reaches the whole process group; the supervisor decides and
forwards SIGTERM). The first SIGTERM drains, a second one releases running jobs at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from dataclasses import asdict

from conveyor.errors import ConveyorError
from conveyor.loading import load_app
from conveyor.worker.config import WorkerConfig
from conveyor.worker.process import WorkerProcess

EXIT_CONFIG = 78


def encode_config(config: WorkerConfig) -> str:
    """The config as a command-line argument."""
    return json.dumps(asdict(config))


def decode_config(text: str) -> WorkerConfig:
    """Inverse of :func:`encode_config`."""
    raw = json.loads(text)
    raw["queues"] = tuple(raw["queues"])
    return WorkerConfig(**raw)


def setup_logging(worker_id: str) -> None:
    """Log to stderr with the worker id, at CONVEYOR_LOG_LEVEL (default INFO)."""
    level = os.environ.get("CONVEYOR_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s [{worker_id}] %(name)s: %(message)s",
    )


async def _serve(worker: WorkerProcess) -> int:
    loop = asyncio.get_running_loop()
    signals = {"count": 0}

    def on_term() -> None:
        signals["count"] += 1
        worker.request_stop(immediate=signals["count"] > 1)

    loop.add_signal_handler(signal.SIGTERM, on_term)
    return await worker.run()


def main(argv: list[str]) -> int:
    """Run one worker process; returns its exit code."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    app_spec, worker_id, config_json = argv
    setup_logging(worker_id)
    try:
        app = load_app(app_spec)
        config = decode_config(config_json)
    except ConveyorError as exc:
        logging.getLogger("conveyor.worker").error("cannot start: %s", exc)
        return EXIT_CONFIG
    return asyncio.run(_serve(WorkerProcess(app, config, worker_id)))


def exit_process(code: int) -> None:
    """Flush output and leave at once.

    Threads of sync jobs that ignored their deadline cannot be joined, so a normal interpreter
    exit could hang on them; everything that matters was written before this point.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

