"""Behind a transaction pooler (issue 14, item 5): the settings, how connections are opened,
and which worker process of a supervisor carries the fleet-wide services."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.store.postgres.pooling import LISTEN_URL_ENV, POOLER_ENV, Pooling, pooling
from conveyor.store.postgres.session import connect_kwargs
from conveyor.worker.config import WorkerConfig
from conveyor.worker.supervisor import FLEET_SERVICES_ENV, Slot, Supervisor

URL = "postgresql://u@127.0.0.1:6432/db"
DIRECT = "postgresql://u@127.0.0.1:5432/db"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (POOLER_ENV, LISTEN_URL_ENV, FLEET_SERVICES_ENV):
        monkeypatch.delenv(name, raising=False)


def test_pooled_connections_prepare_nothing_and_send_no_startup_option() -> None:
    kwargs = connect_kwargs(URL, pooled=True, autocommit=True)
    assert kwargs == {"autocommit": True, "prepare_threshold": None}


def test_the_default_is_no_pooler_and_listen_on_the_store_url() -> None:
    settings = pooling()
    assert settings == Pooling("none", None)
    assert settings.listen_target(URL) == URL


def test_transaction_pooling_listens_on_the_direct_url_or_polls() -> None:
    assert pooling("transaction").listen_target(URL) is None
    assert pooling("transaction", DIRECT).listen_target(URL) == DIRECT


def test_the_environment_sets_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POOLER_ENV, "Transaction")
    monkeypatch.setenv(LISTEN_URL_ENV, DIRECT)
    assert pooling() == Pooling("transaction", DIRECT)
    assert pooling("none").transaction is False  # an argument wins over the environment


def test_session_pooling_needs_nothing() -> None:
    assert pooling("session") == Pooling("none", None)


def test_an_unknown_mode_is_refused_with_what_to_use(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=r"'statement'.*use 'transaction'"):
        pooling("statement")
    monkeypatch.setenv(POOLER_ENV, "bogus")
    with pytest.raises(ConfigurationError, match=f"{POOLER_ENV}='bogus'"):
        pooling()


def test_a_listen_url_that_is_not_postgres_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not a PostgreSQL URL"):
        pooling("transaction", "sqlite:///x.db")


def _supervisor(tmp_path: Path) -> Supervisor:
    app = Conveyor(f"sqlite:///{tmp_path / 'c.db'}")
    return Supervisor(app, "app:app", WorkerConfig(processes=3))


def test_only_the_first_process_of_a_supervisor_carries_the_fleet_services(
    tmp_path: Path,
) -> None:
    supervisor = _supervisor(tmp_path)
    duties = [supervisor._config_for(Slot(i)).duties for i in range(3)]
    assert duties == [True, False, False]


def test_the_old_layout_can_be_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FLEET_SERVICES_ENV, "every")
    supervisor = _supervisor(tmp_path)
    assert all(supervisor._config_for(Slot(i)).duties for i in range(3))
