"""Events: ``app.publish("order.placed", order_id=7)`` enqueues one job per subscriber.

A job type subscribes with ``@app.job(on="order.placed")``. When it is declared, its handler is
checked against the event's other subscribers: every argument one of them requires must be one
the others accept, or no payload could ever satisfy them all, and that is a mistake to see at
import time rather than at the first publish. Publishing validates the payload against each
subscriber (as an enqueue does) before anything is written, then inserts all the jobs in one
transaction: the caller's, with ``connection=``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from conveyor._names import check_no_control
from conveyor.errors import ArgumentError, ConfigurationError
from conveyor.middleware import not_enqueued

if TYPE_CHECKING:
    from conveyor._jobs import JobDefinition
    from conveyor.store.protocol import NewJob

MAX_EVENT_NAME_LENGTH = 200


def check_event_names(on: object) -> tuple[str, ...]:
    """``on=`` as a tuple of event names (one name, or a list of them); raise
    :class:`ConfigurationError` for anything else."""
    if on is None:
        return ()
    names = [on] if isinstance(on, str) else on
    if not isinstance(names, list | tuple) or not names:
        raise ConfigurationError(
            f"on= takes an event name such as 'order.placed', or a list of them, got {on!r}"
        )
    for name in names:
        check_event_name(name)
    return tuple(dict.fromkeys(names))


def check_event_name(name: object) -> str:
    """Return ``name`` if it is a valid event name, else raise :class:`ConfigurationError`."""
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ConfigurationError(
            f"an event name is a non-empty string without surrounding spaces, such as "
            f"'order.placed', got {name!r}"
        )
    if len(name) > MAX_EVENT_NAME_LENGTH:
        raise ConfigurationError(
            f"event name {name[:40]!r}... is longer than {MAX_EVENT_NAME_LENGTH} characters"
        )
    return check_no_control(name, "event name")


def check_subscriber(
    event: str, new: JobDefinition[Any, Any], others: Sequence[JobDefinition[Any, Any]]
) -> None:
    """Refuse ``new`` as a subscriber of ``event`` when it and an existing subscriber could
    never take the same payload: one requires an argument the other does not accept."""
    for other in others:
        for needs, refuses in ((new, other), (other, new)):
            missing = sorted(
                name for name in needs.args.required if not refuses.args.accepts(name)
            )
            if missing:
                raise ConfigurationError(
                    f"job {new.name!r} cannot subscribe to event {event!r}: job {needs.name!r} "
                    f"requires {', '.join(missing)}, which job {refuses.name!r} does not "
                    f"accept, so no payload could fit both; give {refuses.name!r} that "
                    "parameter (or **kwargs), or a default in "
                    f"{needs.name!r}"
                )


def prepare_event(
    event: str,
    subscribers: Mapping[str, Sequence[JobDefinition[Any, Any]]],
    payload: dict[str, Any],
    *,
    allow_none: bool,
) -> list[NewJob]:
    """One prepared job per subscriber of ``event``, each validated against its handler;
    raises (writing nothing) when the payload does not fit one, or when there is no
    subscriber and ``allow_none`` is false."""
    check_event_name(event)
    found = subscribers.get(event, ())
    if not found and not allow_none:
        known = ", ".join(sorted(subscribers)) or "none"
        raise ConfigurationError(
            f"no job subscribes to event {event!r} (events with subscribers: {known}); "
            "declare one with @app.job(on=...), or publish with allow_none=True when having "
            "no subscriber is fine"
        )
    prepared: list[NewJob] = []
    try:
        for definition in found:
            try:
                prepared.append(definition.prepare(**payload))
            except ArgumentError as exc:
                raise ArgumentError(
                    f"event {event!r}, subscriber {definition.name!r}: {exc}; nothing was "
                    "enqueued"
                ) from exc
    except BaseException as exc:
        not_enqueued(prepared, exc)  # the subscribers prepared so far: end what middleware began
        raise
    return prepared
