"""Conformance: the dashboard's login sessions (open, read, expire, close) on both stores."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conveyor.errors import StoreError
from conveyor.store import Store


def test_an_open_session_reads_back_until_it_is_closed(store: Store) -> None:
    before = store.now()
    store.open_session("digest-a", "cred-1", "admin", 3600)
    found = store.get_session("digest-a")
    assert found is not None
    assert (found.credential, found.role) == ("cred-1", "admin")
    assert before + 3600 - 5 <= found.expires_at <= store.now() + 3600 + 5
    assert store.get_session("digest-b") is None
    assert store.close_session("digest-a") is True
    assert store.get_session("digest-a") is None
    assert store.close_session("digest-a") is False


def test_closing_one_session_leaves_the_others(store: Store) -> None:
    store.open_session("one", "cred-1", "admin", 3600)
    store.open_session("two", "cred-1", "admin", 3600)
    assert store.close_session("one")
    assert store.get_session("two") is not None


def test_an_expired_session_is_not_found_and_is_pruned_by_the_next_login(store: Store) -> None:
    # A negative lifetime expires at once: no sleeping for the clock to pass it.
    store.open_session("old", "cred-1", "read", -1)
    assert store.get_session("old") is None
    store.open_session("new", "cred-2", "read", 3600)
    assert store.close_session("old") is False  # the login deleted it
    assert store.get_session("new") is not None


def test_a_session_id_is_used_once(store: Store) -> None:
    store.open_session("same", "cred-1", "admin", 3600)
    with pytest.raises(StoreError):
        store.open_session("same", "cred-2", "admin", 3600)
    found = store.get_session("same")
    assert found is not None and found.credential == "cred-1"


def test_a_session_is_seen_by_another_store_on_the_same_database(
    open_store_on: Callable[..., Store],
) -> None:
    # Two dashboard processes (replicas) share the database: a logout in one ends the
    # session in the other.
    first, second = open_store_on(), open_store_on()
    first.open_session("shared", "cred-1", "admin", 3600)
    assert second.get_session("shared") is not None
    assert second.close_session("shared")
    assert first.get_session("shared") is None
