"""The lifecycle log builds its records without ``Logger.makeRecord`` (for speed): they must
be the records ``makeRecord`` would make, so handlers, filters and formatters see no
difference; and the JSON format reads every ``extra=`` field from them."""

from __future__ import annotations

import json
import logging
import threading

from conveyor._logformat import JsonFormatter
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
