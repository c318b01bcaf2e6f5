"""Keys and errors of ``ctx.once()``: effects guarded against a redelivered attempt.

The context manager itself lives on :class:`~conveyor._context.JobContext`; see
docs/idempotency.md for when each form is exact and when it only narrows the window.
"""

from __future__ import annotations

from conveyor._names import MAX_KEY_LENGTH
from conveyor._retries import Retry
from conveyor.errors import ArgumentError, ConveyorError


class OnceConflictError(ConveyorError, Retry):
    """Another transaction committed the same once key while this attempt ran its block.

    Raised when ``ctx.once()`` ends inside the handler's transaction: the handler fails, its
    transaction (the guarded writes included) is rolled back, and the job is retried at
    once, when ``ctx.once()`` will see the record and yield ``False``. The attempt counts in
    the history, but a conflict is retried even after the last attempt: the effect is done.
    Let it propagate; catching it would commit the guarded writes a second time.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        Retry.__init__(
            self,
            after=0.0,
            reason=(
                f"ctx.once() key {key!r} was recorded by another transaction while this "
                "attempt ran its block; this attempt's writes are rolled back and the job is "
                "retried, when the block will be skipped"
            ),
        )


def once_key(parts: tuple[object, ...]) -> str:
    """The record key of ``ctx.once(*parts)``: the parts joined with ``:``.

    ``%`` and ``:`` inside a text part are escaped, so ``("a:b", "c")`` and ``("a", "b:c")``
    never share a key; an int and its decimal text (``42`` and ``"42"``) do, on purpose.
    Raises :class:`ArgumentError` for no parts, a part that is not ``str`` or ``int``, or a
    key longer than :data:`MAX_KEY_LENGTH`.
    """
    if not parts:
        raise ArgumentError(
            "ctx.once() needs at least one part naming the effect, e.g. "
            "ctx.once('charge', order_id)"
        )
    texts = []
    for position, part in enumerate(parts, start=1):
        # bool is an int subclass, but True as a key part is almost certainly a mistake.
        if isinstance(part, bool) or not isinstance(part, str | int):
            raise ArgumentError(
                f"ctx.once() part {position} is {type(part).__name__} {part!r}; parts must be "
                "str or int (convert other values yourself, e.g. str(uuid))"
            )
        texts.append(str(part).replace("%", "%25").replace(":", "%3A"))
    key = ":".join(texts)
    if len(key) > MAX_KEY_LENGTH:
        raise ArgumentError(
            f"ctx.once() key {key[:40]!r}... is {len(key)} characters, more than "
            f"{MAX_KEY_LENGTH}; use shorter parts (an id rather than a whole document)"
        )
    return key
