"""The seams between stages, checked twice: when the pipeline is declared, and when a stage ends.

At declaration (import time) :func:`seam_problem` compares the type a stage's parameter
declares with the type its parent's return annotation declares: pydantic models field by field
(a field the child requires that the parent does not produce is named), containers by their
items, unions member by member. It answers only what it can prove from the annotations; forms
it cannot reason about (a ``dict`` where a model is expected, an unannotated side) pass here
and are caught by the run-time check.

At run time :class:`OutputCheck` validates what a stage returned against its return
annotation *before* it is stored, and words a violation by field: "embed returned `vals`,
expected `values: list[float]`".
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic
import pydantic_core

from conveyor._retries import Permanent
from conveyor.errors import ConveyorError, PayloadTooLargeError

_UNIONS = (typing.Union, types.UnionType)

_encode = json.JSONEncoder(allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode


def compact_json(value: Any) -> str:
    """``json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)``: the
    text a stage's output, item or input is stored as. One encoder made once (``json.dumps``
    with any option builds a new encoder per call), and an int (a fan-out over ids, an item's
    count) written as the encoder writes it without the encoder's machinery: a fan-out encodes
    every item and every output."""
    if type(value) is int:
        return int.__repr__(value)
    return _encode(value)
_SEQUENCES = (list, tuple, Sequence, set, frozenset)
_MAPPINGS = (dict, Mapping)


def type_name(annotation: object) -> str:
    """A short readable spelling of a type: ``list[float]``, ``Vector``, ``int | None``."""
    if annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return type_name(typing.get_args(annotation)[0])
    if origin in _UNIONS:
        return " | ".join(type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def adapter(annotation: object) -> pydantic.TypeAdapter[Any]:
    """A pydantic validator for any annotation (``Any`` for none)."""
    return pydantic.TypeAdapter(typing.cast(Any, annotation))


def is_model(annotation: object) -> bool:
    """True for a pydantic model class."""
    return isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)


def _strip(annotation: object) -> object:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def seam_problem(expected: object, produced: object, path: str = "") -> str | None:
    """Why a value of type ``produced`` may not validate as ``expected``; None when it will
    (or when the annotations cannot tell). ``path`` prefixes field names in the answer."""
    expected, produced = _strip(expected), _strip(produced)
    if expected in (Any, object) or produced is Any or expected == produced:
        return None
    e_origin, p_origin = typing.get_origin(expected), typing.get_origin(produced)
    where = f"`{path.rstrip('.')}` " if path else ""
    if p_origin in _UNIONS:
        # Every value the parent may produce must be accepted.
        for member in typing.get_args(produced):
            problem = seam_problem(expected, member, path)
            if problem is not None:
                return problem
        return None
    if e_origin in _UNIONS:
        members = typing.get_args(expected)
        if any(seam_problem(m, produced, path) is None for m in members):
            return None
        return f"{where}is {type_name(produced)}, expected {type_name(expected)}".strip()
    if is_model(expected):
        return _model_problem(typing.cast(type[pydantic.BaseModel], expected), produced, path)
    if is_model(produced):
        if expected in _MAPPINGS or e_origin in _MAPPINGS:
            return None  # a model is stored as an object; its values are checked at run time
        return f"{where}is the model {type_name(produced)}, expected {type_name(expected)}"
    if e_origin in _SEQUENCES or expected in _SEQUENCES:
        if not (p_origin in _SEQUENCES or produced in _SEQUENCES):
            return _plain_problem(expected, produced, where)
        return _items_problem(expected, produced, path)
    if e_origin in _MAPPINGS and p_origin in _MAPPINGS:
        e_args, p_args = typing.get_args(expected), typing.get_args(produced)
        if len(e_args) == 2 and len(p_args) == 2:
            return seam_problem(e_args[1], p_args[1], path + "*.")
        return None
    return _plain_problem(expected, produced, where)


def _items_problem(expected: object, produced: object, path: str) -> str | None:
    e_args, p_args = typing.get_args(expected), typing.get_args(produced)
    if not e_args or not p_args:
        return None  # a bare list on either side says nothing about its items
    # tuple[X, ...] and list[X] both hold X; a fixed tuple's items are compared pairwise.
    e_items = [a for a in e_args if a is not Ellipsis]
    p_items = [a for a in p_args if a is not Ellipsis]
    if len(e_items) == 1:
        for item in p_items:
            problem = seam_problem(e_items[0], item, path + "[].")
            if problem is not None:
                return problem
        return None
    if len(e_items) != len(p_items):
        return f"has {len(p_items)} items, expected {len(e_items)}"
    for i, (e, p) in enumerate(zip(e_items, p_items, strict=True)):
        problem = seam_problem(e, p, f"{path}[{i}].")
        if problem is not None:
            return problem
    return None


def _plain_problem(expected: object, produced: object, where: str) -> str | None:
    if not (isinstance(expected, type) and isinstance(produced, type)):
        return None  # Literal, TypeVar, NewType...: left to the run-time check
    if issubclass(produced, expected):
        return None
    if expected is float and produced is int:
        return None  # pydantic takes an int for a float
    return f"{where}is {type_name(produced)}, expected {type_name(expected)}".strip()


def _model_problem(expected: type[pydantic.BaseModel], produced: object, path: str) -> str | None:
    if is_model(produced):
        assert isinstance(produced, type)
        if issubclass(produced, expected):
            return None
        return _fields_problem(expected, typing.cast(type[pydantic.BaseModel], produced), path)
    if produced in _MAPPINGS or typing.get_origin(produced) in _MAPPINGS:
        return None  # a dict may well hold the fields; only the run-time check can tell
    where = f"`{path.rstrip('.')}` " if path else ""
    return f"{where}is {type_name(produced)}, expected the model {expected.__name__}".strip()


def _fields_problem(
    expected: type[pydantic.BaseModel], produced: type[pydantic.BaseModel], path: str
) -> str | None:
    produced_fields = {f.alias or n: f for n, f in produced.model_fields.items()}
    for name, field in expected.model_fields.items():
        key = field.alias or name
        theirs = produced_fields.get(key)
        if theirs is None:
            if not field.is_required():
                continue
            has = ", ".join(f"`{k}`" for k in produced_fields) or "no fields"
            return (
                f"field `{path}{key}: {type_name(field.annotation)}` is missing from "
                f"{produced.__name__} (it has {has})"
            )
        problem = seam_problem(field.annotation, theirs.annotation, f"{path}{key}.")
        if problem is not None:
            if not problem.startswith(("field ", "`")):
                problem = f"field `{path}{key}` {problem}"
            return problem
    if expected.model_config.get("extra") == "forbid":
        known = {f.alias or n for n, f in expected.model_fields.items()}
        extra = [k for k in produced_fields if k not in known]
        if extra:
            return (
                f"field `{path}{extra[0]}` of {produced.__name__} is not allowed by "
                f"{expected.__name__} (extra='forbid')"
            )
    return None


# -- the run-time check --------------------------------------------------------------------------


class SeamError(Permanent, ConveyorError):
    """A value does not fit its declared type at a seam (the message names the field).

    A :class:`~conveyor.Permanent` error: raised in a stage job, it ends the job as dead at
    once (the same bad shape would come back on a retry) and the run fails at that seam.
    """


class ExpectationError(SeamError):
    """A stage's output broke the stage's ``expect=`` (it returned a falsy value or raised).

    Like a wrong shape, it ends the stage job as dead at once and the run fails at that stage,
    so nothing downstream is fed an output its producer itself calls wrong; resume the run
    once the cause is fixed.
    """


_JSON_SCALARS: frozenset[object] = frozenset({int, str, float, bool})
"""Return annotations whose values of exactly that type need no check (a float's NaN is
still refused by the encoder)."""


class OutputCheck:
    """Validates and encodes what one stage returns, against its return annotation."""

    def __init__(self, label: str, annotation: object) -> None:
        self.label = label
        self.annotation = annotation
        self.adapter: pydantic.TypeAdapter[Any] | None = (
            None if annotation in (Any, None, object) else adapter(annotation)
        )

    def encode(self, value: Any, max_bytes: int) -> str:
        """``value`` as JSON once it validates; raise :class:`SeamError` naming the field, or
        :class:`PayloadTooLargeError` when it is over ``max_bytes``."""
        if type(value) is self.annotation and self.annotation in _JSON_SCALARS:
            # An int for `-> int` (a str for `-> str`...): valid as it is, and JSON already.
            return self._text(value, max_bytes)
        try:
            plain = pydantic_core.to_jsonable_python(value)
        except pydantic_core.PydanticSerializationError as exc:
            raise SeamError(
                f"{self.label} returned a {type(value).__name__}, which cannot be stored as "
                f"JSON ({exc}); return plain data or a pydantic model"
            ) from exc
        if self.adapter is not None:
            try:
                checked = self.adapter.validate_python(plain)
            except pydantic.ValidationError as exc:
                raise SeamError(describe(self.label, "returned", plain, self.annotation, exc))\
                    from exc
            plain = self.adapter.dump_python(checked, mode="json")
        return self._text(plain, max_bytes)

    def _text(self, plain: Any, max_bytes: int) -> str:
        try:
            text = compact_json(plain)
        except ValueError as exc:
            raise SeamError(f"{self.label} returned a value JSON cannot hold ({exc})") from exc
        size = len(text.encode())
        if size > max_bytes:
            raise PayloadTooLargeError(
                f"{self.label} returned {size} bytes of output, over the limit of {max_bytes} "
                "bytes (Conveyor(max_payload_bytes=...)); store large data elsewhere (a file, "
                "object storage, a table) and return its key"
            )
        return text


def describe(
    label: str, verb: str, value: Any, annotation: object, exc: pydantic.ValidationError
) -> str:
    """A field-level account of the first validation error: "embed returned `vals`, expected
    `values: list[float]`"."""
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    dotted = ".".join(str(p) for p in loc)
    if first["type"] == "missing" and loc:
        want = _type_at(annotation, loc)
        expected = f"`{dotted}: {type_name(want)}`" if want is not None else f"`{dotted}`"
        parent = _value_at(value, loc[:-1])
        known = _field_names(annotation, loc[:-1])
        extra = [k for k in parent if k not in known] if isinstance(parent, dict) else []
        prefix = ".".join(str(p) for p in loc[:-1])
        got = ", ".join(f"`{prefix + '.' if prefix else ''}{k}`" for k in extra)
        if got:
            return f"{label} {verb} {got}, expected {expected}"
        return f"{label} {verb} no `{dotted}`, expected {expected}"
    where = f"`{dotted}` = {_value_at(value, loc)!r:.60}" if loc else f"{value!r:.60}"
    return f"{label} {verb} {where}: {first['msg']} (expected {type_name(annotation)})"


def _type_at(annotation: object, loc: tuple[Any, ...]) -> object | None:
    current = _strip(annotation)
    for part in loc:
        current = _strip(current)
        origin = typing.get_origin(current)
        if is_model(current) and isinstance(part, str):
            fields = {f.alias or n: f for n, f in typing.cast(Any, current).model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
        elif (origin in _SEQUENCES or origin in _MAPPINGS) and typing.get_args(current):
            current = typing.get_args(current)[-1]
        else:
            return None
    return current


def _field_names(annotation: object, loc: tuple[Any, ...]) -> set[str]:
    at = _type_at(annotation, loc) if loc else _strip(annotation)
    if is_model(at):
        return {f.alias or n for n, f in typing.cast(Any, at).model_fields.items()}
    return set()


def _value_at(value: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value
