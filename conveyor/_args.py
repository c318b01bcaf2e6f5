"""Checking, encoding and decoding job arguments against the handler's signature.

Arguments are validated with pydantic against the handler's annotations when a job is
enqueued, stored as JSON, and validated again when the job runs, so a ``datetime`` or a
pydantic model argument arrives as that type. Unannotated parameters accept any JSON value.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable
from typing import Any

import pydantic
import pydantic_core

from conveyor.errors import ArgumentError, ConfigurationError, PayloadTooLargeError

RESERVED = frozenset(
    {
        "delay", "run_at", "priority", "queue", "connection", "unique_key", "unique_for",
        "tenant", "wait_for_room", "notify_url", "expires_in", "start_by",
    }
)
"""Keyword names ``enqueue`` takes as options; a handler parameter may not use them."""

_ANY: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(Any)

_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"), ensure_ascii=False)
"""The arguments' JSON encoder, made once: ``json.dumps`` with these options builds a new
encoder per call, a third of the cost of encoding small arguments (decision 124)."""


class ArgsSpec:
    """The argument contract of one handler (everything after its ``ctx`` parameter)."""

    def __init__(self, fn: Callable[..., Any], job_name: str) -> None:
        self.job_name = job_name
        signature = inspect.signature(fn)
        params = list(signature.parameters.values())
        if not params or params[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            raise ConfigurationError(
                f"job {job_name!r}: the handler must take the job context as its first "
                f"parameter, e.g. `def {fn.__name__}(ctx, ...)`"
            )
        self.signature = signature.replace(parameters=params[1:])
        try:
            hints = typing.get_type_hints(fn)
        except Exception as exc:  # an annotation that cannot be resolved
            raise ConfigurationError(
                f"job {job_name!r}: cannot resolve the handler's type annotations ({exc})"
            ) from exc
        self.adapters: dict[str, pydantic.TypeAdapter[Any]] = {}
        self.var_keyword = False
        self._plain: dict[str, type] = {}
        """Parameters annotated str/int/float/bool: a value of exactly that type needs no check."""
        self._names = frozenset(p.name for p in params[1:])
        self._required = frozenset(
            p.name
            for p in params[1:]
            if p.default is inspect.Parameter.empty
            and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        )
        for param in params[1:]:
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                raise ConfigurationError(
                    f"job {job_name!r}: *{param.name} cannot be stored as JSON by name; "
                    "use named parameters (or a list parameter)"
                )
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise ConfigurationError(
                    f"job {job_name!r}: positional-only parameter {param.name!r} cannot be "
                    "passed by name; remove the '/' from the signature"
                )
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                self.var_keyword = True
                continue
            if param.name in RESERVED:
                raise ConfigurationError(
                    f"job {job_name!r}: parameter {param.name!r} collides with the enqueue "
                    f"option of that name (reserved: {', '.join(sorted(RESERVED))}); rename it"
                )
            hint = hints.get(param.name, Any)
            if hint is Any:
                continue  # plain JSON, checked by json.dumps itself
            if hint in (str, int, float, bool):
                self._plain[param.name] = hint
            try:
                self.adapters[param.name] = pydantic.TypeAdapter(hint)
            except pydantic.PydanticUserError as exc:
                raise ConfigurationError(
                    f"job {job_name!r}: parameter {param.name!r} has a type pydantic cannot "
                    f"validate ({exc}); use a JSON-friendly type"
                ) from exc


    def plain_type(self, name: str) -> type | None:
        """``str``, ``int``, ``float`` or ``bool`` when parameter ``name`` is annotated exactly
        so (a value of exactly that type is valid as it is), else None."""
        return self._plain.get(name)

    @property
    def required(self) -> frozenset[str]:
        """The parameters a call must give (no default)."""
        return self._required

    def accepts(self, name: str) -> bool:
        """True when a call may pass ``name``: a named parameter, or any with ``**kwargs``."""
        return self.var_keyword or name in self._names

    def _adapter(self, name: str) -> pydantic.TypeAdapter[Any]:
        return self.adapters.get(name, _ANY)

    def encode(self, args: tuple[Any, ...], kwargs: dict[str, Any], max_bytes: int) -> str:
        """Validate arguments and return them as a JSON object; raise :class:`ArgumentError`."""
        if not args and self._fits(kwargs):
            return self._encode_fitting(kwargs, max_bytes)
        values: dict[str, Any] = {}
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ArgumentError(
                f"job {self.job_name!r} takes {self.signature}: {exc}; nothing was enqueued"
            ) from exc
        for name, value in bound.arguments.items():
            if self.var_keyword and name not in self.adapters and isinstance(value, dict):
                extra = self.signature.parameters.get(name)
                if extra is not None and extra.kind is inspect.Parameter.VAR_KEYWORD:
                    values.update(value)
                    continue
            values[name] = self._to_json(name, self._adapter(name), value)
        return self._dump(values, max_bytes)

    def encode_call(self, kwargs: dict[str, Any], max_bytes: int) -> str:
        """:meth:`encode` for a call by keyword only (``enqueue_many``'s items): the same
        checks and the same JSON, with less work per call when the keywords fit."""
        if self._fits(kwargs):
            return self._encode_fitting(kwargs, max_bytes)
        return self.encode((), dict(kwargs), max_bytes)

    def _encode_fitting(self, kwargs: dict[str, Any], max_bytes: int) -> str:
        """The common case, keyword arguments that fit: skip Signature.bind, and pass values
        of exactly their annotated plain type (or unannotated) through without pydantic. The
        caller's dict itself is encoded unless some value needs converting (no copy)."""
        values = kwargs
        for name, value in kwargs.items():
            adapter = self.adapters.get(name)
            if adapter is None or type(value) is self._plain.get(name):
                continue
            if values is kwargs:
                values = dict(kwargs)
            values[name] = self._to_json(name, adapter, value)
        return self._dump(values, max_bytes)

    def _fits(self, kwargs: dict[str, Any]) -> bool:
        keys = kwargs.keys()
        return not self.var_keyword and self._required <= keys and keys <= self._names

    def _dump(self, values: dict[str, Any], max_bytes: int) -> str:
        try:
            text = _ENCODER.encode(values)
        except (TypeError, ValueError) as exc:
            raise ArgumentError(
                f"job {self.job_name!r}: arguments are not valid JSON ({exc}); pass plain "
                "numbers (not NaN or infinity), strings, lists and dicts; nothing was enqueued"
            ) from exc
        try:
            size = len(text.encode())
        except UnicodeEncodeError as exc:
            # A lone surrogate (from a bad decode, say): no database can store the text.
            raise ArgumentError(
                f"job {self.job_name!r}: arguments hold text that is not valid Unicode "
                f"({exc.reason} at character {exc.start} of their JSON); fix or drop the "
                "offending string; nothing was enqueued"
            ) from exc
        if size > max_bytes:
            raise PayloadTooLargeError(
                f"job {self.job_name!r}: arguments encode to {size} bytes, over the limit of "
                f"{max_bytes} bytes (Conveyor(max_payload_bytes=...)); store large data "
                "elsewhere (a file, object storage, a table) and pass its key; nothing was enqueued"
            )
        return text

    def _to_json(self, name: str, adapter: pydantic.TypeAdapter[Any], value: Any) -> Any:
        if adapter is _ANY:
            # No annotation: store the value as it is, so json.dumps refuses what JSON cannot
            # hold (NaN, sets, bytes) instead of pydantic quietly converting it.
            return value
        try:
            checked = adapter.validate_python(value)
            return adapter.dump_python(checked, mode="json")
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            raise ArgumentError(
                f"job {self.job_name!r}: argument {name!r}={value!r:.80} does not match "
                f"{self.signature}: {first['msg']}; nothing was enqueued"
            ) from exc
        except pydantic_core.PydanticSerializationError as exc:
            raise ArgumentError(
                f"job {self.job_name!r}: argument {name!r} of type {type(value).__name__} "
                "cannot be stored as JSON; pass plain data (numbers, strings, lists, dicts) "
                "or annotate the parameter with a pydantic-serialisable type; nothing was "
                "enqueued"
            ) from exc

    def decode(self, args_json: str) -> dict[str, Any]:
        """Turn stored JSON back into keyword arguments; raise :class:`ArgumentError`."""
        try:
            raw = json.loads(args_json)
        except ValueError as exc:
            raise ArgumentError(f"stored arguments are not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise ArgumentError(
                f"stored arguments must be a JSON object, got {type(raw).__name__}"
            )
        return self.validate(raw)

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Validate decoded JSON values (what :meth:`decode` makes of its text) into keyword
        arguments; raise :class:`ArgumentError`. A caller that holds the values already (a
        stage's input) skips the text."""
        # Fast path: every required name present and no unknown one (what bind() checks).
        keys = raw.keys()
        if not (self._required <= keys and (self.var_keyword or keys <= self._names)):
            self._bind_or_raise(raw)
        out: dict[str, Any] = {}
        plain = self._plain
        for name, value in raw.items():
            # A JSON int, str or bool for a parameter of exactly that type is already valid.
            if type(value) is plain.get(name):
                out[name] = value
                continue
            adapter = self.adapters.get(name)
            if adapter is None:
                out[name] = value
                continue
            try:
                out[name] = adapter.validate_python(value)
            except pydantic.ValidationError as exc:
                raise ArgumentError(
                    f"stored argument {name!r} no longer matches {self.job_name}"
                    f"{self.signature}: {exc.errors()[0]['msg']}"
                ) from exc
        return out

    def _bind_or_raise(self, raw: dict[str, Any]) -> None:
        try:
            self.signature.bind(**raw)
        except TypeError as exc:
            raise ArgumentError(
                f"stored arguments {sorted(raw)} no longer fit {self.job_name}{self.signature}: "
                f"{exc}"
            ) from exc
