"""SQLite's search renders stored arguments exactly as PostgreSQL prints them as ``jsonb``.

:func:`conveyor.store.filters.search_text` imitates ``jsonb``'s output so that a search matches
the same jobs on both stores; this compares it with the real server's output, value by value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psycopg

from conveyor.store.filters import search_text

VALUES: list[Any] = [
    {},
    [],
    {"user_id": 1},
    {"recipient": "a@x.org", "to": "b@y.org", "n": [1, 2, {"b": None, "a": True}]},
    {"bb": 1, "a": 2, "ä": 3, "é": 4, "z": 5, "aa": 6},
    {"ratio": 1e-07, "big": 1.5e16, "neg": -0.0, "f": 0.1, "g": 2.5e-05, "h": 123456789.125},
    {"int": -0, "huge": 10**30, "small": -(10**20)},
    {"text": 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f', "uni": "äöü ΣΟΦΙΑ 😀"},
    {"sep": "a, b: c", "nested": [[], {}, [[1]], {"k": {"k": "v"}}]},
    "just a string",
    3.14,
    None,
]


def test_search_text_is_what_postgres_prints_for_jsonb(
    fresh_postgres_url: Callable[[], str],
) -> None:
    with psycopg.connect(fresh_postgres_url(), autocommit=True) as conn:
        for value in VALUES:
            for text in (
                json.dumps(value, separators=(",", ":"), ensure_ascii=False),
                json.dumps(value),
            ):
                row = conn.execute("SELECT %s::jsonb::text", (text,)).fetchone()
                assert row is not None
                assert search_text(text) == row[0], text


def test_text_that_is_not_json_is_searched_as_it_is() -> None:
    assert search_text("{not json") == "{not json"
    assert search_text(None) is None
