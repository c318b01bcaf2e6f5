"""The claim-pass policy (conveyor/store/claim_passes.py), without a database.

Every store runs this one policy; here it runs against scripted passes that record what they
were asked for, so the order of passes, the slots each gets and the hint's part are pinned.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conveyor.store import claim_passes
from conveyor.store.claim_passes import LimitedPass, PlainPass
from conveyor.store.limits import PassHint
from conveyor.store.protocol import ClaimedJob, ClaimParams


def _params(limit: int = 5, limited: tuple[str, ...] = ()) -> ClaimParams:
    return ClaimParams("w", ("q",), ("a", "b"), limit, 30.0, limited_names=limited)


class Scripted:
    """Passes that take ``limited`` and ``plain`` jobs at most, recording each request."""

    def __init__(self, limited: int, plain: int) -> None:
        self.available = {"limited": limited, "plain": plain}
        self.asked: list[tuple[str, int, bool]] = []
        self.next_id = 1

    def _take(self, kind: str, limit: int) -> list[ClaimedJob]:
        n = min(limit, self.available[kind])
        self.available[kind] -= n
        jobs = [self._job() for _ in range(n)]
        return jobs

    def _job(self) -> Any:
        self.next_id += 1
        return self.next_id  # stands in for a ClaimedJob: the policy only counts them

    def limited(self, step: LimitedPass) -> list[ClaimedJob]:
        self.asked.append(("limited", step.params.limit, step.look_first))
        return self._take("limited", step.params.limit)

    def plain(self, step: PlainPass) -> list[ClaimedJob]:
        self.asked.append(("plain", step.params.limit, False))
        return self._take("plain", step.params.limit)


def test_a_worker_with_limited_types_runs_the_limited_pass_then_plain_with_the_rest() -> None:
    passes, hint = Scripted(limited=2, plain=10), PassHint()
    claimed = claim_passes.run(
        claim_passes.claim(_params(5, ("a",)), hint), passes.limited, passes.plain
    )
    assert len(claimed) == 5
    assert passes.asked == [("limited", 5, False), ("plain", 3, False)]
    # The limited pass took nothing the next time: the one after looks first.
    claim_passes.run(claim_passes.claim(_params(5, ("a",)), hint), passes.limited, passes.plain)
    claim_passes.run(claim_passes.claim(_params(5, ("a",)), hint), passes.limited, passes.plain)
    assert passes.asked[2][0] == "limited" and passes.asked[-2] == ("limited", 5, True)


def test_a_full_limited_pass_skips_the_plain_claim() -> None:
    passes = Scripted(limited=9, plain=9)
    claim_passes.run(
        claim_passes.claim(_params(3, ("a",)), PassHint()), passes.limited, passes.plain
    )
    assert passes.asked == [("limited", 3, False)]


def test_a_worker_without_limited_types_looks_for_strays_only_while_due() -> None:
    passes, hint = Scripted(limited=1, plain=2), PassHint()
    first = claim_passes.run(claim_passes.claim(_params(5), hint), passes.limited, passes.plain)
    assert len(first) == 3
    assert passes.asked == [("plain", 5, False), ("limited", 3, True)]
    passes.asked.clear()
    claim_passes.run(claim_passes.claim(_params(5), hint), passes.limited, passes.plain)
    # The last look took one, so it looks again; this one takes none and the next waits.
    assert passes.asked == [("plain", 5, False), ("limited", 5, True)]
    passes.asked.clear()
    claim_passes.run(claim_passes.claim(_params(5), hint), passes.limited, passes.plain)
    assert passes.asked == [("plain", 5, False)]


def test_no_stray_look_when_the_plain_claim_filled_every_slot() -> None:
    passes = Scripted(limited=5, plain=5)
    claim_passes.run(claim_passes.claim(_params(5), PassHint()), passes.limited, passes.plain)
    assert passes.asked == [("plain", 5, False)]


@pytest.mark.parametrize("limited", [(), ("a",)])
def test_the_async_driver_runs_the_same_passes(limited: tuple[str, ...]) -> None:
    sync_passes, async_passes = Scripted(1, 2), Scripted(1, 2)

    async def limited_pass(step: LimitedPass) -> list[ClaimedJob]:
        return async_passes.limited(step)

    async def plain_pass(step: PlainPass) -> list[ClaimedJob]:
        return async_passes.plain(step)

    claim_passes.run(
        claim_passes.claim(_params(5, limited), PassHint()), sync_passes.limited, sync_passes.plain
    )
    asyncio.run(
        claim_passes.run_async(
            claim_passes.claim(_params(5, limited), PassHint()), limited_pass, plain_pass
        )
    )
    assert async_passes.asked == sync_passes.asked
