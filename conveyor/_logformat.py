"""The worker's log formats: ``text`` (for people) and ``json`` (one object per line, for
log pipelines). Chosen with ``conveyor worker --log-format`` or ``CONVEYOR_LOG_FORMAT``.

Both show the job a record belongs to: records from ``ctx.logger`` and the job lifecycle lines
carry the job's fields as record attributes (``job_id``, ``job_name``, ``queue``...). The text
format puts ``[job N]`` before the message; the JSON format writes every field.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from itertools import islice
from typing import Any

from conveyor.errors import ConfigurationError

LOG_FORMAT_ENV = "CONVEYOR_LOG_FORMAT"
LOG_LEVEL_ENV = "CONVEYOR_LOG_LEVEL"
FORMATS = ("text", "json")

# The attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName"}
_FIRST_EXTRA = len(logging.LogRecord("", 0, "", 0, "", (), None).__dict__)
"""Where a record's ``extra=`` attributes start in its ``__dict__`` (after the standard ones)."""


def check_log_format(value: str | None) -> str:
    """``value`` (default: ``CONVEYOR_LOG_FORMAT``, else ``text``) if it names a format."""
    chosen = (value or os.environ.get(LOG_FORMAT_ENV) or "text").strip().lower()
    if chosen not in FORMATS:
        raise ConfigurationError(
            f"log format {chosen!r} is not one of {', '.join(FORMATS)}; pass --log-format json "
            f"or text (or set {LOG_FORMAT_ENV})"
        )
    return chosen


_second: list[tuple[int, str]] = [(-1, "")]
"""The last second formatted (a busy worker logs many lines in the same second)."""


def _utc(epoch: float) -> str:
    whole = int(epoch)
    cached = _second[0]
    if cached[0] != whole:
        cached = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
        _second[0] = cached
    return f"{cached[1]}.{int(epoch * 1000) % 1000:03d}Z"


def _line_encoder() -> Callable[[dict[str, Any]], str]:
    """What ``json.dumps(line, default=str, ensure_ascii=False)`` does, built once.

    ``json.dumps`` with keywords builds an encoder, and the encoder its C scanner, for every
    line (a third of a line's encoding). The C scanner is made once here, without the check
    for circular references, which keeps no state between calls (so threads may share it): a
    field that contains itself then fails with ``RecursionError`` instead of ``ValueError``,
    and the logging handler reports either the same way. ``default=str``: a field that is not
    JSON (a user's object) is written as its str().
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(ensure_ascii=False, default=str).encode
    scan = make(None, str, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
    return lambda line: "".join(scan(line, 0))


_encode = _line_encoder()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the process's worker id,
    every field passed with ``extra=`` (the job's fields among them) and the exception."""

    def __init__(self, worker_id: str) -> None:
        super().__init__()
        self.worker_id = worker_id

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single line of JSON."""
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "worker_id": self.worker_id,
        }
        # LogRecord.__init__ sets its own attributes first; ``extra=`` fields come after them,
        # so only the tail needs checking (a third of this method's cost was the full scan).
        for key, value in islice(record.__dict__.items(), _FIRST_EXTRA, None):
            if key not in _STANDARD and value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _encode(line)


class TextFormatter(logging.Formatter):
    """``time LEVEL [worker] logger: [job N] message`` (the job part when there is one)."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(f"%(asctime)s %(levelname)s [{worker_id}] %(name)s: %(message)s")
        self._second: tuple[int, str] = (-1, "")
        """The last second formatted, local time (most lines share it with the one before)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """``logging.Formatter``'s default time (``2026-01-01 10:00:00,123``), formatting
        each second once."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        whole = int(record.created)
        cached = self._second
        if cached[0] != whole:
            cached = (whole, time.strftime(self.default_time_format, self.converter(whole)))
            self._second = cached
        msec = self.default_msec_format
        return cached[1] if msec is None else msec % (cached[1], record.msecs)

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The line, with the record's job id before its message."""
        text = super().formatMessage(record)
        job_id = getattr(record, "job_id", None)
        if job_id is None:
            return text
        head, sep, message = text.partition(f"{record.name}: ")
        return f"{head}{sep}[job {job_id}] {message}"


def setup_logging(worker_id: str, log_format: str | None = None) -> None:
    """Log to stderr at ``CONVEYOR_LOG_LEVEL`` (default INFO) in the chosen format
    (``log_format``, else ``CONVEYOR_LOG_FORMAT``, else text)."""
    level = os.environ.get(LOG_LEVEL_ENV, "INFO").upper()
    formatter: logging.Formatter
    if check_log_format(log_format) == "json":
        formatter = JsonFormatter(worker_id)
    else:
        formatter = TextFormatter(worker_id)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    # As logging.basicConfig: a process whose logging is set up already keeps its own.
    logging.basicConfig(level=level, handlers=[handler])
