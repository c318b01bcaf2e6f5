"""Health probes of a worker: ``/livez`` and ``/readyz`` on ``--health-port``.

Each worker process writes a small **stamp** file every second from its event loop: when it
was written, how long ago the claim loop last went round (or that every slot is busy, when it
has nothing to claim for) and how long ago the heartbeat last renewed its leases. The
supervisor serves HTTP and judges the stamps of all its processes: a process whose loop is
blocked stops writing, one whose store connection is wedged stops renewing, and either makes
``/livez`` answer 503. A stamp is a file because the processes share nothing else but their
supervisor's pipe, which runs the other way; the files live in a private temporary folder.

``/readyz`` answers 200 when the store answers a trivial read within two seconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from conveyor.errors import ConfigurationError, ConveyorError
from conveyor.store.protocol import Store
from conveyor.worker.periodic import sleep_or_stop

log = logging.getLogger("conveyor.supervisor")

STAMP_EVERY = 1.0
"""Seconds between two stamps of a worker process."""
STARTUP_GRACE = 30.0
"""Seconds a new process may take to write its first stamp (importing the app, connecting)."""
CLAIM_STALL_MIN = 5.0
"""Seconds without a claim round that always count as stuck-free (an idle loop polls)."""
READY_TIMEOUT = 2.0
"""Seconds the store has to answer ``/readyz``'s read."""


def stamp_path(folder: str, worker_id: str) -> Path:
    """Where the process ``worker_id`` writes its stamp."""
    return Path(folder) / f"{worker_id.replace('/', '_').replace(':', '_')}.json"


@dataclass
class Progress:
    """What a worker process's loop records about itself, in monotonic seconds."""

    claim: float
    """Last time the claim loop went round."""
    slots_full: bool = False
    """The claim loop waits for a free slot: no claim is due, so its age does not count."""


class StampWriter:
    """Writes this process's stamp every second until stopped (runs on the worker's loop)."""

    def __init__(
        self, folder: str, worker_id: str, progress: Progress,
        last_renewed: Callable[[], float],
    ) -> None:
        self.path = stamp_path(folder, worker_id)
        self.worker_id = worker_id
        self.progress = progress
        self.last_renewed = last_renewed
        """When the heartbeat last renewed this process's leases (monotonic seconds)."""

    def write(self) -> None:
        """Write the stamp now (atomically: a reader never sees half a file)."""
        now = time.monotonic()
        stamp = {
            "worker_id": self.worker_id,
            "pid": os.getpid(),
            "written": time.time(),
            "claim_age": now - self.progress.claim,
            "slots_full": self.progress.slots_full,
            "heartbeat_age": now - self.last_renewed(),
        }
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(stamp))
        partial.replace(self.path)

    async def run(self, stop: asyncio.Event) -> None:
        """Stamp until ``stop`` is set, then remove the stamp."""
        try:
            while not stop.is_set():
                try:
                    self.write()
                except OSError as exc:  # a full disk must not stop the worker
                    log.warning("cannot write the health stamp %s: %s", self.path, exc)
                await sleep_or_stop(stop, STAMP_EVERY)
        finally:
            self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Child:
    """A running worker process as the supervisor knows it."""

    worker_id: str
    started: float
    """When it was started (monotonic seconds)."""


def judge(
    folder: str, children: Iterable[Child], stall: float, lease: float,
    *, now: float | None = None,
) -> list[str]:
    """The problems of the running processes' stamps (an empty list: all live), judged at
    ``now`` (wall clock; default: the current time)."""
    problems = []
    now = time.time() if now is None else now
    for child in children:
        path = stamp_path(folder, child.worker_id)
        try:
            stamp = json.loads(path.read_text())
        except (OSError, ValueError):
            if time.monotonic() - child.started > STARTUP_GRACE:
                problems.append(f"worker {child.worker_id} has written no health stamp")
            continue
        silent = max(0.0, now - float(stamp["written"]))
        if silent > stall:
            problems.append(
                f"worker {child.worker_id}: its event loop has not run for {silent:.1f}s "
                "(a handler blocking the loop, or the process is stopped)"
            )
            continue
        claim = float(stamp["claim_age"]) + silent
        # An idle claim loop waits up to its poll interval between rounds: a short stall
        # setting must not call that stuck.
        if not stamp["slots_full"] and claim > max(stall, CLAIM_STALL_MIN):
            problems.append(f"worker {child.worker_id}: the claim loop is stuck ({claim:.1f}s)")
        beat = float(stamp["heartbeat_age"]) + silent
        if beat > lease:
            problems.append(
                f"worker {child.worker_id}: leases not renewed for {beat:.1f}s (the store "
                "does not answer the heartbeat)"
            )
    return problems


class HealthServer:
    """Serves ``/livez`` and ``/readyz`` from a thread of the supervisor."""

    def __init__(
        self,
        host: str,
        port: int,
        folder: str,
        children: Callable[[], list[Child]],
        open_store: Callable[[], Store],
        stall: float,
        lease: float,
    ) -> None:
        self.folder = folder
        self.children = children
        self.stall = stall
        self.lease = lease
        self._open_store = open_store
        self._store: Store | None = None
        # A slow probe is waited for at most READY_TIMEOUT and reused by the next request
        # instead of piling up; its thread is a daemon, so a hung store never blocks exit.
        self._probe: concurrent.futures.Future[None] | None = None
        self._probe_lock = threading.Lock()
        try:
            self.server = HTTPServer((host, port), self._handler())
        except OSError as exc:
            raise ConfigurationError(
                f"--health-port {port}: cannot listen on {host}:{port} ({exc.strerror}); "
                "choose a free port"
            ) from exc
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="conveyor-health", daemon=True
        )

    def start(self) -> None:
        """Start serving."""
        self.thread.start()
        host, port = self.server.server_address[:2]
        log.info("health probes on http://%s:%s/livez and /readyz", host, port)

    def close(self) -> None:
        """Stop serving and close the probe's store."""
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
        probe = self._probe
        if self._store is not None and (probe is None or probe.done()):
            self._store.close()

    def live(self) -> tuple[int, dict[str, Any]]:
        """``/livez``: 200 when every process's loop, claims and heartbeat progress."""
        problems = judge(self.folder, self.children(), self.stall, self.lease)
        if problems:
            return 503, {"status": "unhealthy", "problems": problems}
        return 200, {"status": "ok"}

    def ready(self) -> tuple[int, dict[str, Any]]:
        """``/readyz``: 200 when the store answers a read."""
        with self._probe_lock:
            probe = self._probe
            if probe is None or probe.done():
                probe = self._probe = concurrent.futures.Future()
                threading.Thread(
                    target=self._read, args=(probe,), name="conveyor-ready", daemon=True
                ).start()
        try:
            probe.result(timeout=READY_TIMEOUT)
        except concurrent.futures.TimeoutError:
            return 503, {"status": "unready", "problem": "the store did not answer in time"}
        except (ConveyorError, OSError) as exc:
            return 503, {"status": "unready", "problem": f"the store does not answer: {exc}"}
        return 200, {"status": "ok"}

    def _read(self, probe: concurrent.futures.Future[None]) -> None:
        try:
            if self._store is None:
                self._store = self._open_store()
            self._store.get_job(0)  # a primary-key read: the cheapest real round trip
        except BaseException as exc:  # handed to the request that waits for it
            probe.set_exception(exc)
        else:
            probe.set_result(None)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/livez":
                    code, body = server.live()
                elif path == "/readyz":
                    code, body = server.ready()
                else:
                    code, body = 404, {"error": "not found; the probes are /livez and /readyz"}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # probes every few seconds would drown the worker's own log

        return Handler
