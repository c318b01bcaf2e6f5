"""Turning a :class:`JobFilter` (and the outbox's listing filter) into a WHERE clause: one
builder, a small dialect per store.

The filter's meaning is written once here; a :class:`Dialect` only says how each store spells
a parameter, a membership test, a text search and "this many seconds ago". Both stores search
the same text the same way: the job's arguments rendered as PostgreSQL renders ``jsonb`` (see
:func:`search_text`) and its last error message, both lower-cased with Unicode rules, so
``search="ÄBC"`` finds ``"äbc"`` and ``'"to": "'`` matches on either store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from conveyor._outbox import DeliveryKind, DeliveryState
from conveyor.store.protocol import JobFilter


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one store spells the parts of a job filter.

    Each field is a template; ``{p}`` is replaced by a parameter's placeholder (see
    :meth:`param`), ``{col}`` by a column name.
    """

    placeholder: str
    """A parameter's placeholder, with ``{name}``: ``:{name}`` or ``%({name})s``."""
    member_of: str
    """``{col}`` is one of the values in the list parameter ``{p}``."""
    pack_list: Callable[[list[Any]], Any]
    """How a list parameter is sent: a JSON array (SQLite) or the list itself (psycopg)."""
    search: str
    """The arguments or the last error contain the search text bound to ``{p}``."""
    search_value: Callable[[str], str]
    """The search text as the dialect's ``search`` expects it (folded, LIKE-escaped...)."""
    before: str
    """The column ``{col}`` is more than ``{p}`` seconds old."""
    not_before: str
    """The column ``{col}`` is at most ``{p}`` seconds old."""
    seconds_ago: Callable[[float, float | None], float]
    """The value bound for an age of ``seconds`` given the caller's ``now`` (or None)."""

    def param(self, name: str) -> str:
        """The placeholder of parameter ``name``."""
        return self.placeholder.format(name=name)


def where(
    dialect: Dialect, flt: JobFilter, now: float | None = None, *, paginate: bool = True
) -> tuple[str, dict[str, Any]]:
    """Return ``(clause, params)`` for ``flt``; the clause is ``TRUE`` when nothing filters.

    ``now`` is the store's clock for dialects that compute ages in Python (SQLite); a dialect
    that reads the server's clock in SQL ignores it.
    """
    terms: list[str] = []
    params: dict[str, Any] = {}
    p = dialect.param
    if len(flt.states) == 1:
        # An equality, not a membership test: only then does the list index (state, id)
        # yield the newest first.
        terms.append(f"state = {p('f_state')}")
        params["f_state"] = str(flt.states[0])
    elif flt.states:
        terms.append(dialect.member_of.format(col="state", p=p("f_states"), type="text"))
        params["f_states"] = dialect.pack_list([str(s) for s in flt.states])
    if flt.ids:
        terms.append(dialect.member_of.format(col="id", p=p("f_ids"), type="bigint"))
        params["f_ids"] = dialect.pack_list(list(flt.ids))
    for column, value in (
        ("queue", flt.queue),
        ("name", flt.name),
        ("error_type", flt.error_type),
        ("tenant", flt.tenant),
        ("sequence_key", flt.sequence),
    ):
        if value is not None:
            terms.append(f"{column} = {p('f_' + column)}")
            params["f_" + column] = value
    if flt.search:
        terms.append(dialect.search.format(p=p("f_search")))
        params["f_search"] = dialect.search_value(flt.search)
    # Age counts from when the job finished, or from its creation while it is unfinished.
    age = "COALESCE(finished_at, created_at)"
    if flt.older_than is not None:
        terms.append(dialect.before.format(col=age, p=p("f_older")))
        params["f_older"] = dialect.seconds_ago(flt.older_than, now)
    if flt.newer_than is not None:
        terms.append(dialect.not_before.format(col=age, p=p("f_newer")))
        params["f_newer"] = dialect.seconds_ago(flt.newer_than, now)
    if paginate and flt.before_id is not None:
        terms.append(f"id < {p('f_before')}")
        params["f_before"] = flt.before_id
    return (" AND ".join(terms) if terms else "TRUE"), params


# -- the outbox's listing -------------------------------------------------------------------------

DELIVERY_COLUMNS = (
    "id, kind, subject, event, destination, payload_json, event_at, state, attempts, "
    "next_try_at, lease_owner, lease_until, last_error, created_at, delivered_at, failed_at"
)
"""The columns of a delivery row, in the order :func:`conveyor._outbox.delivery_from_row` reads."""


def deliveries_query(
    dialect: Dialect,
    table: str,
    *,
    kind: DeliveryKind | None,
    subject: int | None,
    state: DeliveryState | None,
    failing: bool,
    limit: int,
) -> tuple[str, dict[str, Any]]:
    """``(sql, params)`` of :meth:`~conveyor.store.contract.outbox.OutboxVerbs.list_deliveries`
    on ``table``: the matching deliveries, newest first, at most ``limit``.

    Fixed fragments only, one per given filter, so each can use its index (an ``x IS NULL OR``
    form could not).
    """
    p = dialect.param
    terms: list[str] = []
    params: dict[str, Any] = {"d_limit": limit}
    for column, value in (("kind", kind), ("subject", subject), ("state", state)):
        if value is not None:
            terms.append(f"{column} = {p('d_' + column)}")
            params["d_" + column] = value if isinstance(value, int) else str(value)
    if failing:
        terms.append("last_error IS NOT NULL AND state <> 'delivered'")
    clause = " WHERE " + " AND ".join(terms) if terms else ""
    sql = f"SELECT {DELIVERY_COLUMNS} FROM {table}{clause} ORDER BY id DESC LIMIT {p('d_limit')}"
    return sql, params


# -- the searched text --------------------------------------------------------------------------


def fold(text: str | None) -> str | None:
    """Lower-case ``text`` with Unicode rules (what PostgreSQL's ``lower()`` does in a UTF-8
    database): the case folding both stores' searches use."""
    return None if text is None else text.lower()


def search_text(args: str | None) -> str | None:
    """Stored JSON arguments rendered the way PostgreSQL prints ``jsonb``.

    PostgreSQL keeps arguments as ``jsonb``, which forgets the text it was given: it prints
    keys shortest first, ``", "`` and ``": "`` between items, and numbers without exponents.
    SQLite keeps the text as enqueued, so it renders that text this way before searching, and
    a search matches the same jobs on both stores. Text that is not JSON is returned as it is.
    """
    if args is None:
        return None
    try:
        value = json.loads(args, parse_float=Decimal, object_pairs_hook=dict)
    except ValueError:
        return args
    return _render(value)


_TOKEN_BREAKS = re.compile(r"^\s|[,:{}\[\]]|\s$")
"""A search text without these lies inside one JSON token: tokens are parted by structural
characters, and the spaces ``jsonb`` adds (or a writer's) touch one or begin a gap."""

_RENDERED_OTHERWISE = re.compile(r"\\[u/]|[0-9][eE]|-0\.0")
"""Tokens that ``jsonb`` prints differently: escapes it decodes, exponents, negative zero."""


@lru_cache(maxsize=64)
def _within_one_token(needle: str) -> bool:
    return _TOKEN_BREAKS.search(needle) is None


def args_contain(args: str | None, needle: str | None) -> bool:
    """Whether the :func:`search_text` of ``args``, folded, contains ``needle`` (folded).

    The fast path skips the rendering, which costs ~25 us a row: rendering only reorders
    members and respaces between tokens, so a needle that lies inside one token is found in
    the stored text exactly when it is found in the rendering, unless some token of the text
    is itself printed differently (checked by one scan).
    """
    if args is None or needle is None:
        return False
    if _within_one_token(needle) and _RENDERED_OTHERWISE.search(args) is None:
        return needle in args.lower()
    return needle in (fold(search_text(args)) or "")


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        # numeric has no negative zero and prints its scale without an exponent.
        return format(abs(value) if value.is_zero() else value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    # jsonb orders keys by length in bytes, then bytewise (a duplicate key keeps its last value).
    items = sorted(value.items(), key=lambda kv: (len(kv[0].encode()), kv[0].encode()))
    return "{" + ", ".join(f"{_render(k)}: {_render(v)}" for k, v in items) + "}"


def like_literal(text: str) -> str:
    """``text`` escaped for LIKE/ILIKE (default escape ``\\``), so % and _ match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _required(now: float | None) -> float:
    if now is None:
        raise TypeError("the SQLite dialect computes ages from the store's clock: pass now")
    return now


SQLITE = Dialect(
    placeholder=":{name}",
    member_of="{col} IN (SELECT value FROM json_each({p}))",
    pack_list=json.dumps,
    # conveyor_args_contain and conveyor_fold are Python functions every Conveyor connection
    # registers (sqlite/connection.py): SQLite's own lower() folds ASCII letters only. instr()
    # takes the text literally (LIKE would read % and _ in it).
    search=(
        "(conveyor_args_contain(args, {p}) "
        "OR (error_message IS NOT NULL AND instr(conveyor_fold(error_message), {p}) > 0))"
    ),
    search_value=lambda text: text.lower(),
    before="{col} < {p}",
    not_before="{col} >= {p}",
    seconds_ago=lambda seconds, now: _required(now) - seconds,
)
"""SQLite: named ``:params``, JSON arrays for lists, ages from the caller's clock."""

POSTGRES = Dialect(
    placeholder="%({name})s",
    member_of="{col} = ANY({p}::{type}[])",
    pack_list=lambda values: values,
    # ILIKE folds with the database's ctype (Unicode in a UTF-8 locale); args::text is the
    # rendering search_text() reproduces for SQLite.
    search="(args::text ILIKE {p} OR error_message ILIKE {p})",
    search_value=lambda text: f"%{like_literal(text)}%",
    before="{col} < now() - make_interval(secs => {p})",
    not_before="{col} >= now() - make_interval(secs => {p})",
    seconds_ago=lambda seconds, now: seconds,
)
"""PostgreSQL: psycopg's ``%(params)s``, arrays for lists, ages from the server's clock."""
