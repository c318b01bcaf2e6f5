"""The composition of PostgreSQL statements from marked parts of other SQL files.

``complete_and_claim``'s one statement is built from complete_jobs.sql and claim_jobs.sql
(postgres/claim_round.py); these tests pin the helper and the composed text without a database
(the conformance suite runs the statement on PostgreSQL).
"""

from __future__ import annotations

import re

import pytest

from conveyor.store.postgres.claim_round import complete_and_claim_sql, look_and_claim_sql
from conveyor.store.postgres.sql import (
    fill_hook,
    inline_nulls,
    part,
    parts,
    query,
    split_parts,
)

SQL = """-- a header the parts leave out
-- @part head
WITH a AS (SELECT 1)
  -- @hook extra: filled in by a composer
-- @part tail
SELECT * FROM a
"""


def test_parts_run_from_their_marker_to_the_next() -> None:
    found = split_parts(SQL, "x.sql")
    assert list(found) == ["head", "tail"]
    assert found["head"].startswith("WITH a AS (SELECT 1)")
    assert "-- @hook extra" in found["head"]
    assert found["tail"] == "SELECT * FROM a"


def test_a_part_marked_twice_is_refused_with_the_files_name() -> None:
    with pytest.raises(RuntimeError, match=r"x\.sql marks a part twice"):
        split_parts(SQL + "-- @part tail\nSELECT 2\n", "x.sql")


def test_a_hook_is_replaced_once_and_must_exist_once() -> None:
    filled = fill_hook(SQL, "extra", "  AND true")
    assert "@hook" not in filled and "  AND true\n" in filled
    with pytest.raises(RuntimeError, match=r"one '-- @hook missing' line, found 0"):
        fill_hook(SQL, "missing", "")
    with pytest.raises(RuntimeError, match=r"found 2"):
        fill_hook(SQL + "  -- @hook extra\n", "extra", "")


def test_a_missing_part_names_the_file_and_the_parts_it_has() -> None:
    with pytest.raises(RuntimeError, match=r"queries/complete_jobs\.sql has no '-- @part nope'"):
        part("complete_jobs", "public", "nope")


def test_the_shipped_files_mark_the_parts_the_round_needs() -> None:
    assert set(parts("complete_jobs", "public")) == {"ctes", "answer"}
    assert set(parts("claim_jobs", "public")) == {"ctes", "update"}
    assert set(parts("claim_jobs_tenants", "public")) == {"ctes", "update"}


def _without_comments(sql: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"--[^\n]*", "", sql)).strip()


@pytest.mark.parametrize("claim_file", ["claim_jobs", "claim_jobs_tenants"])
def test_the_round_is_both_files_statements_joined(claim_file: str) -> None:
    composed = complete_and_claim_sql("public", claim_file)
    assert "@part" not in composed and "@hook" not in composed
    flat = _without_comments(composed)
    complete = _without_comments(query("complete_jobs", "public"))
    claim = _without_comments(query(claim_file, "public"))
    # Every CTE of the completion, as written in its file, then the claim's.
    complete_ctes = complete.removeprefix("WITH ").split(" SELECT done.id FROM done")[0]
    assert flat.startswith("WITH RECURSIVE " + complete_ctes.rstrip(","))
    claim_head, claim_update = claim.removeprefix("WITH RECURSIVE ").split(
        ' UPDATE "public".conveyor_jobs AS j SET '
    )
    running = "WHERE j.state = 'running' AND j.queue = ANY(%(queues)s::text[])"
    assert claim_head.replace(running, running + " AND j.id NOT IN (SELECT id FROM done)") in flat
    assert 'claimed AS ( UPDATE "public".conveyor_jobs AS j SET ' + claim_update + " )" in flat
    assert flat.endswith("FROM done, (SELECT COUNT(*) FROM woken) AS notified")


@pytest.mark.parametrize("claim_file", ["claim_jobs", "claim_jobs_tenants"])
def test_the_look_and_claim_is_the_look_then_the_claim_guarded_by_it(claim_file: str) -> None:
    composed = look_and_claim_sql("public", claim_file)
    assert "@part" not in composed and "@hook" not in composed
    flat = _without_comments(composed)
    look = _without_comments(query("limited_waiting", "public"))
    assert flat.startswith("WITH RECURSIVE look(waiting) AS ( " + look + " ),")
    claim = _without_comments(query(claim_file, "public"))
    claim_head, claim_update = claim.removeprefix("WITH RECURSIVE ").split(
        ' UPDATE "public".conveyor_jobs AS j SET '
    )
    skip = "FOR UPDATE OF j SKIP LOCKED"
    guarded = claim_head.replace(
        "ORDER BY pos LIMIT %(limit)s " + skip,
        "AND NOT (SELECT waiting FROM look) ORDER BY pos LIMIT %(limit)s " + skip,
    )
    assert guarded != claim_head and guarded in flat
    assert 'claimed AS ( UPDATE "public".conveyor_jobs AS j SET ' + claim_update + " )" in flat
    assert flat.endswith("SELECT NULL::boolean, claimed.* FROM claimed")


def test_inline_nulls_writes_each_none_as_null_and_keeps_the_rest() -> None:
    sql = "SELECT %(a)s::int, %(b)s, %(c)s::text, %(b)s"
    assert inline_nulls(sql, {"a": 1, "b": None, "c": None}) == (
        "SELECT %(a)s::int, NULL, NULL::text, NULL",
        {"a": 1},
    )
    params = {"a": 1}
    assert inline_nulls(sql, params) == (sql, params)


def test_an_include_line_stands_for_the_other_files_text() -> None:
    # The claims' tenants CTE is written once, in claim_tenants.sql, and included by both.
    shared = query("claim_tenants", "public").strip("\n")
    for name in ("claim_jobs", "claim_jobs_tenants"):
        sql = query(name, "public")
        assert "-- @include" not in sql
        assert shared in sql
        assert part(name, "public", "ctes").startswith("WITH RECURSIVE tenants AS (")
