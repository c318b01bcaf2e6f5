"""The lifecycle log builds its records without ``Logger.makeRecord`` (for speed): they must
be the records ``makeRecord`` would make, so handlers, filters and formatters see no
difference; and the JSON format reads every ``extra=`` field from them."""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor._logformat import _STANDARD, JsonFormatter, _utc
from conveyor.worker import joblog

VARIABLE = {"created", "msecs", "relativeCreated"}


def test_a_record_equals_what_make_record_gives() -> None:
    fields = {"job_id": 7, "job_name": "app.send", "event": "started", "tenant": None}
    ours = joblog._record(logging.WARNING, "%s started", ("app.send",), dict(fields))
    theirs = joblog.log.makeRecord(
        joblog.log.name, logging.WARNING, joblog.__file__, 0, "%s started", ("app.send",), None,
        extra=dict(fields),
    )
    assert isinstance(ours, logging.LogRecord)
    assert list(ours.__dict__) == list(theirs.__dict__)  # same attributes, same order
    assert {k: v for k, v in ours.__dict__.items() if k not in VARIABLE} == {
        k: v for k, v in theirs.__dict__.items() if k not in VARIABLE
    }
    assert abs(ours.created - theirs.created) < 1
    assert abs(ours.relativeCreated - theirs.relativeCreated) < 1000
    assert ours.getMessage() == "app.send started"


def test_records_made_in_another_thread_name_that_thread() -> None:
    made: list[logging.LogRecord] = []
    thread = threading.Thread(
        target=lambda: made.append(joblog._record(logging.INFO, "x", (), {})), name="other"
    )
    thread.start()
    thread.join()
    assert made[0].threadName == "other" and made[0].thread == thread.ident
    assert joblog._record(logging.INFO, "x", (), {}).thread == threading.get_ident()


def test_json_lines_carry_every_extra_field_and_skip_none() -> None:
    record = joblog._record(logging.ERROR, "%s", ("boom",),
                            {"job_id": 3, "queue": "q", "tenant": None, "retry_at": "T"})
    record.message = "set by an earlier formatter"  # a standard attribute after the extras
    line = json.loads(JsonFormatter("w-1").format(record))
    assert line["message"] == "boom" and line["level"] == "ERROR"
    assert (line["job_id"], line["queue"], line["retry_at"]) == (3, "q", "T")
    assert "tenant" not in line and line["worker_id"] == "w-1"
    plain = logging.getLogger("t").makeRecord("t", logging.INFO, "f", 1, "m", (), None,
                                              extra={"rows": 10})
    assert json.loads(JsonFormatter("w").format(plain))["rows"] == 10


def reference_line(worker_id: str, record: logging.LogRecord) -> str:
    """The JSON line as the formatter wrote it before its head was cached: a dict of the
    head, then every extra field that is not None, then the traceback."""
    line: dict[str, Any] = {
        "time": _utc(record.created),
        "level": record.levelname,
        "logger": record.name,
        "message": record.getMessage(),
        "worker_id": worker_id,
    }
    for key, value in record.__dict__.items():
        if key not in _STANDARD and value is not None:
            line[key] = value
    if record.exc_info:
        line["exception"] = logging.Formatter().formatException(record.exc_info)
    return json.dumps(line, default=str, ensure_ascii=False, check_circular=False)


class Opaque:
    """A field value that is not JSON: written as its str()."""

    def __str__(self) -> str:
        return 'opaque "thing"'


values = st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.just(Opaque())
values = values | st.lists(values, max_size=3) | st.dictionaries(st.text(max_size=4), values,
                                                                    max_size=3)
names = st.sampled_from(
    ["job_id", "job_name", "queue", "worker_id", "tenant", "trace_id", "event", "duration",
     "time", "level", "logger", "exception", "rows", "é", 'quo"te']
) | st.text(min_size=1, max_size=8)


@settings(max_examples=400, deadline=None)
@given(
    fields=st.dictionaries(names, values, max_size=8),
    level=st.sampled_from([logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, 25]),
    logger=st.sampled_from(["conveyor.jobs", "conveyor.job.app.send", 'we"ird\u2028name']),
    message=st.text(max_size=20),
    worker_id=st.sampled_from(["host:812:0:a1b2c3", "wörker \"1\""]),
    failed=st.booleans(),
    lifecycle=st.booleans(),
)
def test_json_lines_are_what_the_dict_of_their_fields_encodes(
    fields: dict[str, Any], level: int, logger: str, message: str, worker_id: str,
    failed: bool, lifecycle: bool,
) -> None:
    fields = {k: v for k, v in fields.items() if k not in _STANDARD}
    exc_info = None
    if failed:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    if lifecycle and not failed:
        record = joblog._record(level, "%s", (message,), dict(fields))
        record.name = logger
    else:
        record = logging.getLogger(logger).makeRecord(
            logger, level, "f", 1, "%s", (message,), exc_info, extra=dict(fields)
        )
    formatter = JsonFormatter(worker_id)
    for _ in range(2):  # the second line of a (level, logger) uses the cached head
        assert formatter.format(record) == reference_line(worker_id, record)

