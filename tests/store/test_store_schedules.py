"""Conformance: schedules' definitions (sync from code, add, remove, list, pause)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from conveyor.store import Store
from conveyor.store.watch_types import ScheduleRow, ScheduleSource, SlotFire, SlotStatus


def schedule(name: str = "nightly", **changes: object) -> ScheduleRow:
    """A code-declared schedule with every field set away from its default."""
    row = ScheduleRow(
        name=name,
        job_name="reports.build",
        timing="cron:0 3 * * *",
        tz="Europe/Berlin",
        args_json='{"kind": "daily"}',
        queue="reports",
        priority=5,
        grace=1800.5,
        catch_up="all",
        catch_up_cap=12,
        overlap="queue",
    )
    return replace(row, **changes)  # type: ignore[arg-type]


def added(row: ScheduleRow) -> ScheduleRow:
    """``row`` as ``conveyor schedules add`` writes it: a run-time schedule."""
    return replace(row, source=ScheduleSource.STORE)


def definition(row: ScheduleRow) -> ScheduleRow:
    """``row`` with its run-time fields blanked, to compare definitions."""
    return replace(
        row,
        source=ScheduleSource.CODE,
        paused=False,
        paused_by=None,
        created_at=0.0,
        updated_at=0.0,
        last_slot=None,
    )


# -- listing ------------------------------------------------------------------------------------


def test_there_are_no_schedules_at_first(store: Store) -> None:
    assert store.list_schedules() == []
    assert store.get_schedule("nightly") is None


def test_sync_stores_every_field_and_lists_by_name(store: Store) -> None:
    before = store.now()
    rows = [schedule("b"), schedule("a", queue=None, priority=None, tz="UTC", grace=0.0)]
    store.put_schedules(rows)
    listed = store.list_schedules()
    assert [r.name for r in listed] == ["a", "b"]
    assert [definition(r) for r in listed] == [rows[1], rows[0]]
    for row in listed:
        assert row.source is ScheduleSource.CODE
        assert row.paused is False and row.paused_by is None and row.last_slot is None
        assert before - 1 <= row.created_at <= store.now() + 1
        assert row.updated_at == row.created_at
    assert store.get_schedule("b") == listed[1]


def test_sync_of_nothing_does_nothing(store: Store) -> None:
    store.put_schedules([])
    assert store.list_schedules() == []


def test_sync_updates_the_definition_and_keeps_run_time_state(store: Store) -> None:
    store.put_schedules([schedule()])
    store.set_schedule_paused("nightly", True, by="alice")
    store.fire_slots("nightly", [SlotFire(slot=1000.0, status=SlotStatus.MISSED)])
    first = store.get_schedule("nightly")
    assert first is not None

    changed = schedule(timing="every:900", grace=60.0, queue=None, args_json="{}")
    store.put_schedules([changed])
    after = store.get_schedule("nightly")
    assert after is not None
    assert definition(after) == changed
    assert after.created_at == first.created_at
    assert after.paused is True and after.paused_by == "alice"
    assert after.last_slot == 1000.0
    assert after.updated_at >= first.updated_at


def test_sync_without_a_change_writes_nothing(store: Store) -> None:
    store.put_schedules([schedule()])
    first = store.get_schedule("nightly")
    store.put_schedules([schedule()])
    assert store.get_schedule("nightly") == first


def test_sync_takes_the_last_row_of_a_name(store: Store) -> None:
    store.put_schedules([schedule(timing="every:60"), schedule(timing="every:120")])
    row = store.get_schedule("nightly")
    assert row is not None and row.timing == "every:120"


def test_list_schedules_of_names_and_get_schedule(store: Store) -> None:
    store.put_schedules([schedule("b"), schedule("a"), schedule("c")])
    assert [r.name for r in store.list_schedules(["c", "a", "unknown"])] == ["a", "c"]
    assert store.list_schedules([]) == []
    got = store.get_schedule("b")
    assert got is not None and got == store.list_schedules(["b"])[0]
    assert store.get_schedule("unknown") is None


def test_put_schedules_writes_code_and_store_rows_in_one_call(store: Store) -> None:
    store.put_schedules([added(schedule("taken", timing="every:60"))])
    written = store.put_schedules(
        [
            added(schedule("taken", timing="every:5")),
            schedule("code"),
            added(schedule("fresh")),
            added(schedule("fresh", timing="every:7")),
        ]
    )
    assert written == [False, True, True, False]
    rows = {r.name: r for r in store.list_schedules()}
    assert (rows["taken"].timing, rows["taken"].source) == ("every:60", ScheduleSource.STORE)
    assert rows["code"].source is ScheduleSource.CODE
    assert (rows["fresh"].timing, rows["fresh"].source) == (
        "cron:0 3 * * *",
        ScheduleSource.STORE,
    )
    assert store.put_schedules([]) == []


def test_sync_takes_over_a_schedule_added_at_run_time(store: Store) -> None:
    assert store.put_schedules([added(schedule(timing="every:60"))])[0]
    store.put_schedules([schedule()])
    row = store.get_schedule("nightly")
    assert row is not None
    assert row.source is ScheduleSource.CODE and row.timing == "cron:0 3 * * *"


def test_concurrent_syncs_of_the_same_schedules_all_succeed(
    open_store_on: Callable[..., Store],
) -> None:
    stores = [open_store_on() for _ in range(4)]
    rows = [schedule(f"s{i}") for i in range(20)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def sync(s: Store, reverse: bool) -> None:
        barrier.wait()
        try:
            s.put_schedules(list(reversed(rows)) if reverse else rows)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sync, args=(s, i % 2 == 1)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert [definition(r) for r in stores[0].list_schedules()] == sorted(rows, key=lambda r: r.name)


# -- run-time schedules ---------------------------------------------------------------------


def test_add_schedule_stores_it_from_the_store_and_refuses_a_taken_name(store: Store) -> None:
    before = store.now()
    row = schedule("adhoc", timing="every:300")
    assert store.put_schedules([added(row)])[0] is True
    stored = store.get_schedule("adhoc")
    assert stored is not None
    assert stored.source is ScheduleSource.STORE
    assert definition(stored) == row
    assert before - 1 <= stored.created_at <= store.now() + 1

    assert store.put_schedules([added(schedule("adhoc", timing="every:5"))])[0] is False
    assert store.get_schedule("adhoc") == stored
    store.put_schedules([schedule("nightly")])
    assert store.put_schedules([added(schedule("nightly", timing="every:5"))])[0] is False
    kept = store.get_schedule("nightly")
    assert kept is not None and kept.source is ScheduleSource.CODE and kept.timing != "every:5"


def test_remove_schedule_deletes_the_definition_but_keeps_its_ledger(store: Store) -> None:
    store.put_schedules([schedule("nightly"), schedule("other")])
    store.fire_slots("nightly", [SlotFire(slot=60.0, status=SlotStatus.MISSED)])
    assert store.remove_schedule("nightly") is True
    assert store.get_schedule("nightly") is None
    assert [r.name for r in store.list_schedules()] == ["other"]
    assert [e.slot for e in store.schedule_ledger("nightly")] == [60.0]
    assert store.remove_schedule("nightly") is False
    assert store.remove_schedule("never") is False


# -- pause and resume -----------------------------------------------------------------------


def test_pause_and_resume_record_who_and_refuse_unknown_names(store: Store) -> None:
    assert store.set_schedule_paused("nightly", True, by="alice") is False
    store.put_schedules([schedule()])
    created = store.get_schedule("nightly")
    assert created is not None

    assert store.set_schedule_paused("nightly", True, by="alice") is True
    paused = store.get_schedule("nightly")
    assert paused is not None and paused.paused is True and paused.paused_by == "alice"
    assert paused.updated_at >= created.updated_at

    # Pausing again keeps the first pause's author and time.
    assert store.set_schedule_paused("nightly", True, by="bob") is True
    assert store.get_schedule("nightly") == paused

    assert store.set_schedule_paused("nightly", False, by="bob") is True
    resumed = store.get_schedule("nightly")
    assert resumed is not None and resumed.paused is False and resumed.paused_by is None
    assert store.set_schedule_paused("nightly", False, by="carol") is True
    assert store.get_schedule("nightly") == resumed
