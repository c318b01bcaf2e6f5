"""Conformance: the dashboard's login sessions (open, read, expire, close) on both stores."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conveyor.errors import StoreError
from conveyor.store import Store
from conveyor.store.web_types import NewSession


def test_an_open_session_reads_back_until_it_is_closed(store: Store) -> None:
    before = store.now()
    store.put_session("digest-a", NewSession("cred-1", "admin", 3600))
    found = store.get_session("digest-a")
    assert found is not None
    assert (found.credential, found.role) == ("cred-1", "admin")
    assert before + 3600 - 5 <= found.expires_at <= store.now() + 3600 + 5
    assert store.get_session("digest-b") is None
    assert store.put_session("digest-a", None) is True
    assert store.get_session("digest-a") is None
    assert store.put_session("digest-a", None) is False


def test_closing_one_session_leaves_the_others(store: Store) -> None:
    store.put_session("one", NewSession("cred-1", "admin", 3600))
    store.put_session("two", NewSession("cred-1", "admin", 3600))
    assert store.put_session("one", None)
    assert store.get_session("two") is not None


def test_an_expired_session_is_not_found_and_is_pruned_by_the_next_login(store: Store) -> None:
    # A negative lifetime expires at once: no sleeping for the clock to pass it.
    store.put_session("old", NewSession("cred-1", "read", -1))
    assert store.get_session("old") is None
    store.put_session("new", NewSession("cred-2", "read", 3600))
    assert store.put_session("old", None) is False  # the login deleted it
    assert store.get_session("new") is not None


def test_a_session_id_is_used_once(store: Store) -> None:
    store.put_session("same", NewSession("cred-1", "admin", 3600))
    with pytest.raises(StoreError):
        store.put_session("same", NewSession("cred-2", "admin", 3600))
    found = store.get_session("same")
    assert found is not None and found.credential == "cred-1"


def test_a_session_is_seen_by_another_store_on_the_same_database(
    open_store_on: Callable[..., Store],
) -> None:
    # Two dashboard processes (replicas) share the database: a logout in one ends the
    # session in the other.
    first, second = open_store_on(), open_store_on()
    first.put_session("shared", NewSession("cred-1", "admin", 3600))
    assert second.get_session("shared") is not None
    assert second.put_session("shared", None)
    assert first.get_session("shared") is None


def test_sessions_open_and_expire_by_the_callers_clock(store: Store) -> None:
    assert store.put_session("timed", NewSession("cred-1", "admin", 60), now=1000.0) is True
    found = store.get_session("timed", now=1059.0)
    assert found is not None and found.expires_at == 1060.0
    assert store.get_session("timed", now=1060.0) is None
    # A login at a later clock deletes it on the way.
    store.put_session("later", NewSession("cred-1", "admin", 60), now=2000.0)
    assert store.put_session("timed", None) is False
