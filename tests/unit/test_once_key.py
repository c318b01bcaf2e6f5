"""The keys ctx.once() records: built from str and int parts, unambiguous, validated."""

from __future__ import annotations

import pytest

from conveyor._names import MAX_KEY_LENGTH
from conveyor._once import OnceConflictError, once_key
from conveyor._retries import Retry
from conveyor.errors import ArgumentError


def test_parts_are_joined_with_colons() -> None:
    assert once_key(("charge", 42)) == "charge:42"
    assert once_key(("welcome",)) == "welcome"


def test_an_int_and_its_text_share_a_key() -> None:
    assert once_key(("charge", 42)) == once_key(("charge", "42"))


def test_colons_inside_parts_cannot_make_two_keys_collide() -> None:
    assert once_key(("a:b", "c")) != once_key(("a", "b:c"))
    assert once_key(("a%3Ab",)) != once_key(("a:b",))


@pytest.mark.parametrize("part", [1.5, None, True, b"x", ("a",)])
def test_a_part_that_is_not_str_or_int_is_refused_by_position(part: object) -> None:
    with pytest.raises(ArgumentError, match=r"part 2 is .*; parts must be str or int"):
        once_key(("charge", part))


def test_no_parts_and_overlong_keys_are_refused() -> None:
    with pytest.raises(ArgumentError, match="at least one part"):
        once_key(())
    with pytest.raises(ArgumentError, match=f"more than {MAX_KEY_LENGTH}"):
        once_key(("x" * (MAX_KEY_LENGTH + 1),))


def test_a_conflict_is_a_retry_at_once() -> None:
    error = OnceConflictError("charge:1")
    assert isinstance(error, Retry) and error.after == 0.0
    assert "charge:1" in str(error)
