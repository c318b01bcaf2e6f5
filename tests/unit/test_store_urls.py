"""What a store URL may be: a libpq key=value string is refused, not made a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.store import open_store, sqlite_path


@pytest.mark.parametrize(
    "conninfo",
    [
        "host=127.0.0.1 dbname=app user=postgres",
        "user=postgres dbname=conveyor host=127.0.0.1 port=5432",
        "dbname=app",
        "service = prod",
    ],
)
def test_a_libpq_connection_string_is_refused_and_no_file_is_made(
    conninfo: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="postgresql://user@host:5432/dbname"):
        open_store(conninfo)
    with pytest.raises(ConfigurationError, match="key=value connection string"):
        Conveyor(conninfo).store  # noqa: B018  (opening the store is the point)
    assert list(tmp_path.iterdir()) == []


def test_a_password_in_it_is_not_repeated_in_the_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        sqlite_path("host=db user=app password=hunter2")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "path", ["conveyor.db", "data/user=bob/conveyor.db", "sqlite:///jobs.db", "/tmp/a b.db"]
)
def test_file_paths_and_sqlite_urls_still_open_sqlite(path: str) -> None:
    assert sqlite_path(path) is not None
