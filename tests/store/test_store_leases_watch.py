"""Conformance: named leases with an expiry (the one active monitor holds one)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from conveyor.store import Store

LEASE = "monitor"


def test_a_free_lease_is_taken_and_others_are_refused_while_it_runs(store: Store) -> None:
    assert store.set_lease(LEASE, "a", 60) is True
    assert store.set_lease(LEASE, "b", 60) is False
    # Other names are other leases.
    assert store.set_lease("other", "b", 60) is True
    assert store.set_lease("other", "a", 60) is False


def test_the_holder_extends_its_own_lease(store: Store) -> None:
    t = store.now()
    assert store.set_lease(LEASE, "a", 0.2, now=t) is True
    assert store.set_lease(LEASE, "a", 60, now=t) is True
    # Extended to a minute: the first, short term has passed (on the caller's clock, advanced
    # instead of sleeping) but the lease still runs.
    assert store.set_lease(LEASE, "b", 60, now=t + 0.3) is False
    assert store.set_lease(LEASE, "a", 60, now=t + 0.3) is True


def test_an_expired_lease_changes_hands(store: Store) -> None:
    t = store.now()
    assert store.set_lease(LEASE, "a", 0.2, now=t) is True
    assert store.set_lease(LEASE, "b", 0.2, now=t) is False
    assert store.set_lease(LEASE, "b", 60, now=t + 0.3) is True
    # The former holder lost it and cannot simply extend it.
    assert store.set_lease(LEASE, "a", 60, now=t + 0.3) is False


def test_release_frees_the_lease_only_for_its_holder(store: Store) -> None:
    assert store.set_lease(LEASE, "a", 60) is True
    store.set_lease(LEASE, "b", None)  # not b's: nothing happens
    assert store.set_lease(LEASE, "b", 60) is False
    store.set_lease(LEASE, "a", None)
    assert store.set_lease(LEASE, "b", 60) is True
    store.set_lease(LEASE, "b", None)
    # Releasing twice, or a lease nobody holds, is harmless.
    store.set_lease(LEASE, "b", None)
    store.set_lease("never", "a", None)
    assert store.set_lease(LEASE, "a", 60) is True


def test_racing_holders_with_their_own_stores_get_the_lease_once(
    store: Store, open_store_on: Callable[..., Store]
) -> None:
    stores = [open_store_on() for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    won: dict[str, bool] = {}
    errors: list[BaseException] = []

    def contend(holder: str, own: Store) -> None:
        try:
            barrier.wait()
            won[holder] = own.set_lease(LEASE, holder, 60)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=contend, args=(f"h{n}", s)) for n, s in enumerate(stores)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    winners = [h for h, ok in won.items() if ok]
    assert len(won) == len(stores) and len(winners) == 1
    # Only the winner holds it now.
    assert store.set_lease(LEASE, winners[0], 60) is True
    assert store.set_lease(LEASE, "someone-else", 60) is False


def test_lease_holder_names_who_holds_a_running_lease(store: Store) -> None:
    t = store.now()
    assert store.lease_holder(LEASE) is None  # never taken
    assert store.set_lease(LEASE, "a", 0.2, now=t) is True
    assert store.lease_holder(LEASE, now=t) == "a"
    assert store.lease_holder("other", now=t) is None
    # Expired on the caller's clock (advanced instead of sleeping): nobody holds it.
    assert store.lease_holder(LEASE, now=t + 0.3) is None
    assert store.set_lease(LEASE, "b", 60, now=t + 0.3) is True
    assert store.lease_holder(LEASE) == "b"
    assert store.set_lease(LEASE, "b", None) is False
    assert store.lease_holder(LEASE) is None
