"""Cluster-wide limits a job type declares: how many may run at once, how many may start per period.

``@app.job(limit=Concurrency(5, key="vendor:{vendor}"))`` lets at most 5 jobs of one vendor run
at a time across every worker and machine; ``rate=Rate(100, per="1m", key="{tenant}")`` lets at
most 100 start in any minute per tenant. A job held back by a limit stays queued: it waits, it
never fails and no attempt is charged. The stores enforce the limits when they claim (see
:mod:`conveyor.store.limits`); this module only validates the declaration and turns one call
into the key it counts against. See docs/limits.md.

Keys are global strings: two job types whose keys are equal share one limit. Prefix keys with
what they count (``"vendor:{vendor}"``) unless sharing is what you want.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conveyor._durations import Duration, to_seconds
from conveyor._unique import UniqueTemplate
from conveyor.errors import ArgumentError, ConfigurationError

TENANT_FIELD = "tenant"
"""The special template field filled from the job's ``tenant=`` enqueue option."""



def _positive(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{what} must be a positive int, got {value!r}")
    return value


def _key(value: object, what: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigurationError(
            f"{what} key must be None (one limit per job type) or a non-empty template such "
            f"as 'vendor:{{vendor}}' or 'tenant:{{tenant}}', got {value!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class Concurrency:
    """At most ``max`` jobs running at once per key, across the whole cluster.

    ``key`` is a ``str.format`` template over the handler's parameters (``"vendor:{vendor}"``),
    where ``{tenant}`` is the job's ``tenant=`` enqueue option. Without a key the limit is per
    job type. Raises :class:`ConfigurationError` for a ``max`` that is not a positive int.
    """

    max: int
    key: str | None = None

    def __post_init__(self) -> None:
        _positive(self.max, "Concurrency(max)")
        _key(self.key, "Concurrency(key=...)")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``max`` job starts in any period of ``per`` per key, across the whole cluster.

    ``per`` is a duration (seconds, a ``timedelta`` or a string like ``"1m"``); it is stored
    as seconds. ``key`` works as in :class:`Concurrency`. Jobs over budget wait until the
    sliding window leaves room. Raises :class:`ConfigurationError` on bad values.
    """

    max: int
    per: Duration
    key: str | None = None

    def __post_init__(self) -> None:
        _positive(self.max, "Rate(max)")
        seconds = to_seconds(self.per, what="Rate(per=...)")
        if seconds <= 0:
            raise ConfigurationError(f"Rate(per=...) must be a positive duration, got {self.per!r}")
        object.__setattr__(self, "per", seconds)
        _key(self.key, "Rate(key=...)")

    @property
    def seconds(self) -> float:
        """The period in seconds."""
        # __post_init__ stored the period as seconds.
        assert isinstance(self.per, float)
        return self.per


class LimitKey:
    """A limit's key template, checked against the handler and filled for each call."""

    def __init__(
        self, template: str | None, option: str, job_name: str, parameters: tuple[str, ...]
    ) -> None:
        self.job_name = job_name
        self.option = option
        self.template: UniqueTemplate | None = None
        if template is not None:
            # {tenant} is an enqueue option, never a handler parameter (the name is reserved).
            self.template = UniqueTemplate(
                template,
                job_name,
                (*parameters, TENANT_FIELD),
                option=option,
                instead="change the key template",
            )

    @property
    def needs_tenant(self) -> bool:
        """True when the key uses ``{tenant}``."""
        return self.template is not None and TENANT_FIELD in self.template.fields

    def fill(self, arguments: Mapping[str, Any], tenant: str | None) -> str:
        """The key one call counts against; raise :class:`ArgumentError` if it cannot be made."""
        if self.template is None:
            return self.job_name
        if self.needs_tenant and tenant is None:
            raise ArgumentError(
                f"job {self.job_name!r}: its {self.option}= key "
                f"{self.template.template!r} uses {{tenant}}, so enqueue it with tenant='...' "
                "(whose work this is); nothing was enqueued"
            )
        return self.template.fill({**arguments, TENANT_FIELD: tenant})


def check_limit(value: object) -> Concurrency | None:
    """Return ``limit=`` if it is None or a :class:`Concurrency`, else raise."""
    if value is not None and not isinstance(value, Concurrency):
        raise ConfigurationError(
            f"limit= takes conveyor.Concurrency(max, key=...), got {value!r}"
        )
    return value


def check_rate(value: object) -> Rate | None:
    """Return ``rate=`` if it is None or a :class:`Rate`, else raise."""
    if value is not None and not isinstance(value, Rate):
        raise ConfigurationError(
            f"rate= takes conveyor.Rate(max, per='1m', key=...), got {value!r}"
        )
    return value
