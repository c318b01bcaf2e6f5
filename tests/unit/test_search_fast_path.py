"""The SQLite search's fast path answers exactly what rendering every row would.

:func:`conveyor.store.filters.args_contain` skips rendering stored arguments as ``jsonb`` when
the search text lies inside one JSON token; these properties check it against the slow path
(render, fold, look) for arguments written the way Conveyor and other writers write JSON.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.store.filters import args_contain, fold, search_text

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
    | st.sampled_from(["Äbc", "a, b: c", "x y", "1e5", "-0.0", "K", "İ"])
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_writers = st.sampled_from(
    [
        lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False),  # enqueue's
        json.dumps,
        lambda v: json.dumps(v, indent=2),
    ]
)


def _slow(args: str, needle: str) -> bool:
    return needle in (fold(search_text(args)) or "")


@settings(max_examples=400, deadline=None)
@given(value=_values, write=_writers, data=st.data())
def test_the_fast_path_agrees_with_rendering_every_row(value: Any, write: Any, data: Any) -> None:
    args = write(value)
    rendered = fold(search_text(args)) or ""
    # Needles cut from either text (hits and near misses) and from nowhere.
    source = data.draw(st.sampled_from([rendered, args.lower()]))
    start = data.draw(st.integers(0, len(source)))
    end = data.draw(st.integers(start, len(source)))
    for needle in (source[start:end], data.draw(st.text(max_size=4)).lower()):
        if needle:
            assert args_contain(args, needle) == _slow(args, needle), (args, needle)


def test_examples_of_both_paths() -> None:
    args = json.dumps({"to": "b@y.org", "ratio": 1e-07, "city": "Ärhus"}, ensure_ascii=False)
    assert args_contain(args, "ärhus") and args_contain(args, '"to": "b@y')
    assert args_contain(args, "0.0000001") and not args_contain(args, "e-07")
    assert not args_contain(None, "x") and not args_contain(args, None)
