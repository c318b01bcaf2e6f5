"""Property tests of the limited pass's decision (conveyor.store.limits.choose), with a fake clock.

The simulation plays the database's part: it keeps jobs, running sets and recorded starts,
counts them as a store would before each claim, and applies each decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.store.limits import Candidate, Spent, choose, spent_until

LIMITS = {"a": 2, "b": 3}
RATES = {"x": (2, 1.0), "y": (3, 2.5)}

add = st.tuples(
    st.just("add"), st.sampled_from([None, "a", "b"]), st.sampled_from([None, "x", "y"])
)
claim = st.tuples(st.just("claim"), st.integers(1, 6), st.floats(0.0, 1.5))
finish = st.tuples(st.just("finish"), st.integers(0, 50), st.just(None))
operations = st.lists(st.one_of(add, claim, finish), max_size=60)


@dataclass
class World:
    """Jobs waiting (in claim order), running, and starts recorded per rate key."""

    now: float = 1000.0
    waiting: list[Candidate] = field(default_factory=list)
    running: dict[int, Candidate] = field(default_factory=dict)
    starts: dict[str, list[float]] = field(default_factory=dict)
    next_id: int = 1

    def add(self, limit_key: str | None, rate_key: str | None) -> None:
        if limit_key is None and rate_key is None:
            return  # a plain job never reaches the limited pass
        rate = RATES.get(rate_key or "")
        self.waiting.append(
            Candidate(
                id=self.next_id,
                limit_key=limit_key,
                limit_max=LIMITS.get(limit_key or ""),
                rate_key=rate_key,
                rate_max=rate[0] if rate else None,
                rate_per=rate[1] if rate else None,
            )
        )
        self.next_id += 1

    def spent(self) -> tuple[dict[str, Spent], dict[str, Spent]]:
        running: dict[str, int] = {}
        for c in self.running.values():
            if c.limit_key is not None:
                running[c.limit_key] = running.get(c.limit_key, 0) + 1
        live = {
            key: Spent(sum(1 for s in times if s + RATES[key][1] > self.now), RATES[key][0])
            for key, times in self.starts.items()
        }
        return {k: Spent(n, LIMITS[k]) for k, n in running.items()}, live

    def claim(self, slots: int) -> list[int]:
        running, live = self.spent()
        decision = choose(self.waiting, running, live, self.now, slots)
        chosen = set(decision.chosen)
        for c in self.waiting:
            if c.id in chosen:
                self.running[c.id] = c
                if c.rate_key is not None:
                    self.starts.setdefault(c.rate_key, []).append(self.now)
                    assert decision.starts[c.id].expires_at == self.now + RATES[c.rate_key][1]
        before = list(self.waiting)
        self.waiting = [c for c in self.waiting if c.id not in chosen]
        check_decision(before, running, live, slots, decision.chosen)
        return decision.chosen


def check_decision(
    candidates: list[Candidate],
    running: dict[str, Spent],
    live: dict[str, Spent],
    slots: int,
    chosen: list[int],
) -> None:
    """Taken in order; a candidate is skipped only when a key of its own has no room."""
    assert len(chosen) <= slots
    order = [c.id for c in candidates]
    assert chosen == [i for i in order if i in set(chosen)]
    used = {k: v.count for k, v in running.items()}
    starts = {k: v.count for k, v in live.items()}
    taken = 0
    for c in candidates:
        if taken == slots:
            break
        limit_room = c.limit_key is None or used.get(c.limit_key, 0) < LIMITS[c.limit_key]
        rate_room = c.rate_key is None or starts.get(c.rate_key, 0) < RATES[c.rate_key][0]
        # Jobs of keys with room are never held back, whatever other keys are doing.
        assert (c.id in chosen) == (limit_room and rate_room)
        if c.id in chosen:
            taken += 1
            if c.limit_key is not None:
                used[c.limit_key] = used.get(c.limit_key, 0) + 1
            if c.rate_key is not None:
                starts[c.rate_key] = starts.get(c.rate_key, 0) + 1


@settings(max_examples=300, deadline=None)
@given(operations)
def test_limits_hold_through_any_history(ops: list[tuple[str, object, object]]) -> None:
    world = World()
    for op, a, b in ops:
        if op == "add":
            world.add(a, b)  # type: ignore[arg-type]
        elif op == "claim":
            world.now += float(b)  # type: ignore[arg-type]
            world.claim(int(a))  # type: ignore[call-overload]
        elif world.running:
            ids = sorted(world.running)
            del world.running[ids[int(a) % len(ids)]]  # type: ignore[call-overload]
        # Never more than max running per concurrency key.
        for key, most in LIMITS.items():
            assert sum(1 for c in world.running.values() if c.limit_key == key) <= most
    # Never more than max starts in any window of length ``per`` (open at its start).
    for key, times in world.starts.items():
        most, per = RATES[key]
        for t in times:
            assert sum(1 for s in times if t - per < s <= t) <= most


@given(st.integers(1, 5), st.integers(0, 10))
def test_the_smallest_limit_of_a_key_wins(small: int, extra: int) -> None:
    candidates = [
        Candidate(i, "k", small if i % 2 else small + extra, None, None, None) for i in range(20)
    ]
    assert len(choose(candidates, {}, {}, 0.0, 20).chosen) == small


def test_a_key_full_by_running_jobs_takes_nothing_but_others_run() -> None:
    candidates = [Candidate(1, "a", 1, None, None, None), Candidate(2, "b", 1, None, None, None)]
    assert choose(candidates, {"a": Spent(1, 1)}, {}, 0.0, 5).chosen == [2]


@given(st.lists(st.floats(0, 100), max_size=10), st.integers(1, 5))
def test_spent_until_is_when_room_comes_back(expiries: list[float], budget: int) -> None:
    until = spent_until(expiries, budget)
    if len(expiries) < budget:
        assert until is None
    else:
        assert until is not None
        assert sum(1 for e in expiries if e > until) < budget
        assert sum(1 for e in expiries if e >= until) >= budget
