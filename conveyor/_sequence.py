"""Sequences: what a job type declares with ``sequence=`` and ``on_dead=``.

Jobs whose sequence key (a template over the handler's parameters, as ``unique=`` takes) is
the same run one at a time, in enqueue order, across all workers. The stores enforce it
(:mod:`conveyor.store.sequences`); this module only checks the declaration and fills the key.
See docs/ordering.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor._unique import UniqueTemplate
from conveyor.errors import ArgumentError, ConfigurationError

ON_DEAD_BLOCK = "block"
"""A dead job keeps the later jobs of its key waiting until it is replayed or discarded."""
ON_DEAD_CONTINUE = "continue"
"""A dead job lets the next job of its key start."""
ON_DEAD_CHOICES = (ON_DEAD_BLOCK, ON_DEAD_CONTINUE)


def check_sequence_options(sequence: object, on_dead: object) -> None:
    """Raise :class:`ConfigurationError` for a bad ``sequence=`` or ``on_dead=``."""
    if sequence is not None and (not isinstance(sequence, str) or not sequence):
        raise ConfigurationError(
            f"sequence= takes a non-empty key template such as 'acct:{{account_id}}', "
            f"got {sequence!r}"
        )
    if on_dead not in ON_DEAD_CHOICES:
        raise ConfigurationError(
            f"on_dead= must be 'block' (a dead job holds up its sequence) or 'continue' "
            f"(the next job of the key starts), got {on_dead!r}"
        )
    if on_dead != ON_DEAD_BLOCK and sequence is None:
        raise ConfigurationError(
            "on_dead= needs sequence= too: it says what a dead job does to the jobs behind "
            "it in its sequence, e.g. sequence='acct:{account_id}'"
        )


class SequenceTemplate:
    """The key template of ``sequence=``: checked at declaration like ``unique=``'s (every
    field must name a parameter of the handler), filled per call."""

    def __init__(self, template: str, job_name: str, parameters: tuple[str, ...]) -> None:
        self._template = UniqueTemplate(
            template, job_name, parameters, option="sequence",
            instead="give the job the argument it names",
        )
        self.template = template
        self.job_name = job_name

    def __repr__(self) -> str:
        return f"SequenceTemplate({self.template!r})"

    def fill(self, arguments: Mapping[str, Any]) -> str:
        """The key for one call's bound arguments; raise :class:`ArgumentError` if it fails or
        is empty (an empty key would put unrelated calls in one sequence)."""
        key = self._template.fill(arguments)
        if not key.strip():
            raise ArgumentError(
                f"job {self.job_name!r}: its sequence key template {self.template!r} filled to "
                f"an empty key; every job of a sequenced type needs a key, so pass a value for "
                f"the argument it names; nothing was enqueued"
            )
        return key
