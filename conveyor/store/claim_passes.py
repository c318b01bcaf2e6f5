"""The claim-pass policy, written once: which passes a claim runs, in which order, with what.

A claim runs up to three passes: the limited pass (jobs whose rows carry a concurrency or rate
limit, claimed within their keys' budgets, see :mod:`conveyor.store.limits`), the plain claim
with the slots left, and for a worker that declares no limited types, a "stray" look for
limited rows after its plain claim (a row carries its limit, so a type whose code declares none
still obeys it). :class:`~conveyor.store.limits.PassHint` decides when the cheap look comes
first and how often strays are looked for.

The policy is a plan in the sans-I/O style: a generator that yields the passes to run and
receives what each claimed. Each store runs those passes its own way (PostgreSQL: a look and a
transaction, or a CTE; SQLite: under its single writer) with :func:`run` or :func:`run_async`,
each pass a transaction of its own, or with :func:`in_plan` as statements of a larger plan
(completions, then the claim, in one transaction); none of them repeats the policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, replace

from conveyor.store.limits import PassHint
from conveyor.store.plan import Plan
from conveyor.store.protocol import ClaimedJob, ClaimParams


@dataclass(frozen=True, slots=True)
class LimitedPass:
    """Claim limited jobs for ``params``; with ``look_first``, only if a cheap read finds one."""

    params: ClaimParams
    look_first: bool


@dataclass(frozen=True, slots=True)
class PlainPass:
    """Claim plain jobs for ``params`` (its ``limit`` is the slots left)."""

    params: ClaimParams


Pass = LimitedPass | PlainPass
Policy = Generator[Pass, list[ClaimedJob], list[ClaimedJob]]
"""Yields passes, receives each pass's claimed jobs, returns every job claimed in order."""


def claim(params: ClaimParams, hint: PassHint) -> Policy:
    """The passes of one claim for ``params`` (see the module's docstring)."""
    claimed: list[ClaimedJob] = []
    if params.limited_names:
        claimed = yield LimitedPass(params, look_first=hint.look_first())
        hint.after_pass(len(claimed))
    if len(claimed) < params.limit:
        claimed = claimed + (yield PlainPass(_left(params, claimed)))
    return claimed + (yield from stray_look(params, claimed, hint))


def stray_look(params: ClaimParams, claimed: list[ClaimedJob], hint: PassHint) -> Policy:
    """After a plain claim took ``claimed``: the look for limited rows, when it is due.

    Only for a worker that declares no limited types (one that does ran the limited pass).
    Returns what the look claimed (nothing when it did not run).
    """
    if params.limited_names or len(claimed) >= params.limit or not hint.stray_look_due():
        return []
    stray = yield LimitedPass(_left(params, claimed), look_first=True)
    hint.after_pass(len(stray))
    return stray


def _left(params: ClaimParams, claimed: list[ClaimedJob]) -> ClaimParams:
    return replace(params, limit=params.limit - len(claimed))


def run(
    policy: Policy,
    limited: Callable[[LimitedPass], list[ClaimedJob]],
    plain: Callable[[PlainPass], list[ClaimedJob]],
) -> list[ClaimedJob]:
    """Run ``policy`` with a store's synchronous passes."""
    try:
        step = next(policy)
        while True:
            step = policy.send(limited(step) if isinstance(step, LimitedPass) else plain(step))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_async(
    policy: Policy,
    limited: Callable[[LimitedPass], Awaitable[list[ClaimedJob]]],
    plain: Callable[[PlainPass], Awaitable[list[ClaimedJob]]],
) -> list[ClaimedJob]:
    """Run ``policy`` with a store's asynchronous passes."""
    try:
        step = next(policy)
        while True:
            found = await (limited(step) if isinstance(step, LimitedPass) else plain(step))
            step = policy.send(found)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def in_plan(
    policy: Policy,
    look: Callable[[ClaimParams], Plan[bool]],
    limited: Callable[[ClaimParams], Plan[list[ClaimedJob]]],
    plain: Callable[[ClaimParams], Plan[list[ClaimedJob]]],
) -> Plan[list[ClaimedJob]]:
    """Run ``policy`` as statements of the plan it is part of, with a store's pass plans.

    ``look`` is the cheap read a :class:`LimitedPass` with ``look_first`` runs before
    ``limited``; inside one transaction it still spares the pass's heavier statements.
    """
    try:
        step = next(policy)
        while True:
            found: list[ClaimedJob] = []
            if isinstance(step, PlainPass):
                found = yield from plain(step.params)
            elif not step.look_first or (yield from look(step.params)):
                found = yield from limited(step.params)
            step = policy.send(found)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
