"""The item rows a fan-out's part COPYs into ``conveyor_stage_items`` on PostgreSQL.

A part of 2,000 items was written as one ``INSERT ... SELECT`` from a JSON array of objects,
each built and encoded in Python: about 12 us of server time and 4 of the worker's per item,
beside the 2,000 jobs COPYed just before in the same transaction. The rows are COPYed too,
in COPY's text format, which needs no more than its escapes: every column but the input is
a number or a fixed word, and the input is JSON text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from conveyor.store.run_graph import NewItem

BLOCK_ROWS = 500
"""Rows per block handed to the driver (the server inserts one while the next is built)."""

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def text_value(value: str | None) -> str:
    """``value`` as a field of COPY's text format: ``\\N`` for NULL, else with the
    characters the format gives a meaning escaped."""
    return "\\N" if value is None else value.translate(_ESCAPES)


def item_blocks(items: Sequence[NewItem], job_ids: Sequence[int]) -> Iterator[bytes]:
    """The rows of ``copy_stage_items.sql`` for new items whose jobs got ``job_ids`` (in the
    same order): each item queued, with its input."""
    if len(items) != len(job_ids):
        raise ValueError(f"{len(items)} items but {len(job_ids)} job ids")
    for start in range(0, len(items), BLOCK_ROWS):
        block = zip(items[start : start + BLOCK_ROWS], job_ids[start : start + BLOCK_ROWS],
                    strict=True)
        yield "".join(
            f"{int(i.stage_id)}\t{int(i.item)}\t{int(job_id)}\tqueued\t"
            f"{text_value(i.input_json)}\n"
            for i, job_id in block
        ).encode()
