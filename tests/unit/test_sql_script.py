"""Splitting migration files into statements."""

from conveyor.store.sql_script import statements


def test_a_semicolon_in_a_comment_does_not_split_a_statement() -> None:
    sql = """-- the audit; who did what
CREATE TABLE t (a INTEGER);
    -- an indented comment; with a semicolon
CREATE INDEX i ON t (a);
"""
    assert statements(sql) == ["CREATE TABLE t (a INTEGER)", "CREATE INDEX i ON t (a)"]
