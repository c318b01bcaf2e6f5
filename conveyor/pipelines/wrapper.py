"""The handler every stage job runs: load the stage's input, check it, call the stage, check
what it returned.

A stage job's arguments are ``run_id``, ``stage_run_id`` and ``item``, and ``given``: its
input, copied in by the transaction that enqueued it when that transaction had it at hand and
it is small (the run's input for a first stage, a plain parent's output that finished in that
transaction, a fan-out item's input). Without ``given`` the input is read from the store when
the job starts (the run's input, its parents' outputs, its item, or a resume's override).
Either way it is validated against the stage's parameters, so an output stored by older code
is caught at the seam too. The value a stage returns is validated against its return
annotation before the worker stores it: a violation is a :class:`SeamError` (permanent, so the
job is dead at once and the run fails at that seam). A fan-out stage's expander job (item -1)
calls ``each`` on the parent's output and writes the items with ``expand_stage``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic

from conveyor._context import JobContext
from conveyor._lifecycle import JSONText
from conveyor._retries import Cancel
from conveyor.errors import ArgumentError, PayloadTooLargeError
from conveyor.models import RunState
from conveyor.pipelines.seams import (
    ExpectationError,
    SeamError,
    adapter,
    compact_json,
    describe,
    type_name,
)
from conveyor.store.contract.run_records import EXPANDER_ITEM, ParentOutput, StageInput

if TYPE_CHECKING:
    from conveyor.pipelines.declare import Stage


def given_input(stage: Stage, given: dict[str, Any]) -> dict[str, Any]:
    """The stage's arguments as JSON values, before validation, from a ``given`` argument
    (what :func:`_raw_input` makes of a :class:`StageInput`, without encoding the values to
    text and decoding them again). Not for an expander, whose input goes through ``each``.
    The hand-off that wrote ``given`` found the run running; a run stopped since has
    cancelled the job (a running one cooperatively), so no read of the run's state is
    needed either."""
    if stage.fan_out:
        return {stage.params[0]: given.get("item_input")}
    if not stage.parents:
        value = given.get("run_input")
        return value if isinstance(value, dict) else {}
    # ``given`` carries plain parents' outputs only (never a fan-out's, never failures).
    outputs = {str(name): value for name, value in given.get("parents", ())}
    if len(stage.parents) == 1:
        return {stage.params[0]: outputs.get(stage.parents[0].name)}
    return outputs


def inline_input(stage: Stage, given: dict[str, Any], run_id: int, item: int) -> StageInput:
    """The :class:`StageInput` a ``given`` argument carries. The hand-off that wrote it found
    the run running; a run stopped since has cancelled the job (a running one cooperatively),
    so no read of the run's state is needed either."""

    def text(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    parents = tuple(
        ParentOutput(str(name), text(value)) for name, value in given.get("parents", ())
    )
    return StageInput(
        run_id=run_id,
        stage=stage.name,
        item=item,
        run_state=RunState.RUNNING,
        run_input_json=text(given.get("run_input")),
        parents=parents,
        item_input_json=text(given["item_input"]) if "item_input" in given else None,
    )


@dataclass(frozen=True)
class Expansion:
    """What an expander job writes: one JSON value per item, in order."""

    items_json: list[str]


def stage_handler(stage: Stage) -> Callable[..., Any]:
    """The job handler for ``stage`` (``async def`` exactly when the stage is)."""
    app = stage.pipeline.app
    if stage.is_async:

        async def run_async(
            ctx: JobContext, run_id: int, stage_run_id: int, item: int, given: Any = None
        ) -> Any:
            # The store only where it is used: an item with its input in ``given`` (a
            # fan-out's every item) goes from its arguments to its output without it.
            call = _call_from_given(stage, given, run_id, item)
            if call is None:
                found = await app.async_store.stage_input(stage_run_id, item)
                call = prepare(stage, found, run_id, item)
            if isinstance(call, Expansion):
                done = await app.async_store.expand_stage(
                    ctx.job_id, ctx._token, call.items_json
                )
                return _expanded(ctx, done)
            fn: Callable[..., Awaitable[Any]] = stage.fn
            return check_output(stage, await fn(ctx, **call))

        handler: Callable[..., Any] = run_async
    else:

        def run_sync(
            ctx: JobContext, run_id: int, stage_run_id: int, item: int, given: Any = None
        ) -> Any:
            call = _call_from_given(stage, given, run_id, item)
            if call is None:
                call = prepare(stage, app.store.stage_input(stage_run_id, item), run_id, item)
            if isinstance(call, Expansion):
                done = app.store.expand_stage(ctx.job_id, ctx._token, call.items_json)
                return _expanded(ctx, done)
            return check_output(stage, stage.fn(ctx, **call))

        handler = run_sync
    handler.__name__ = handler.__qualname__ = stage.name
    handler.__module__ = getattr(stage.fn, "__module__", __name__)
    handler.__doc__ = stage.fn.__doc__
    return handler


def _call_from_given(
    stage: Stage, given: Any, run_id: int, item: int
) -> dict[str, Any] | Expansion | None:
    """The stage's call from its job's ``given`` argument, or None when the job carries no
    input and must read it from the store."""
    if not isinstance(given, dict):
        return None
    if item != EXPANDER_ITEM:
        return check_input(stage, given_input(stage, given))
    return prepare(stage, inline_input(stage, given, run_id, item), run_id, item)


def _expanded(ctx: JobContext, done: bool) -> None:
    if not done:
        raise Cancel(
            "the fan-out was not written: the run is no longer running or this attempt lost "
            "its job"
        )
    # expand_stage completed the expander in its own transaction: the worker writes nothing.
    ctx._settled = True


def prepare(
    stage: Stage, given: StageInput | None, run_id: int, item: int
) -> dict[str, Any] | Expansion:
    """The keyword arguments of the stage's call, or the items an expander writes."""
    if given is None:
        raise SeamError(
            f"stage `{stage.name}` of run {run_id} no longer exists in the store (was the run "
            "pruned?); nothing to run"
        )
    if given.run_state is not RunState.RUNNING:
        raise Cancel(f"run {run_id} is {given.run_state}; stage `{stage.name}` does not start")
    if item == EXPANDER_ITEM:
        # A resume's override of a fan-out stage replaces what its each= receives.
        parent = stage.parents[0]
        if given.override_json is not None:
            override = ParentOutput(parent.name, given.override_json)
            return expand(stage, parent_value(parent, override, overridden=True))
        return expand(stage, parent_value(parent, given.parents[0]))
    raw = _raw_input(stage, given)
    return check_input(stage, raw)


def _raw_input(stage: Stage, given: StageInput) -> dict[str, Any]:
    """The stage's arguments as JSON values, before validation (see :class:`StageInput`)."""
    if stage.fan_out:
        return {stage.params[0]: json.loads(given.item_input_json or "null")}
    if given.override_json is not None:
        # The override has the shape the stage would get: the input object for a first
        # stage, the parent's output for one parent, an object by parent name for several.
        value = json.loads(given.override_json)
        if len(stage.parents) == 1:
            return {stage.params[0]: value}
        if not isinstance(value, dict):
            raise SeamError(
                f"stage `{stage.name}` cannot take its input: the resume's input must be a "
                f"JSON object of {', '.join(stage.params)}, got {type(value).__name__}"
            )
        return value
    if not stage.parents:
        value = json.loads(given.run_input_json)
        return value if isinstance(value, dict) else {}
    outputs = {p.stage: _raw_parent(p) for p in given.parents}
    if len(stage.parents) == 1:
        return {stage.params[0]: outputs.get(stage.parents[0].name)}
    return outputs


def _raw_parent(parent: ParentOutput) -> Any:
    """A parent's output as JSON; under ``collect``, failures stand in their items' places."""
    value = json.loads(parent.output_json)
    if not parent.failures:
        return value
    outputs = iter(value)
    failed = {f.item: f for f in parent.failures}
    merged: list[Any] = []
    for index in range(len(value) + len(failed)):
        failure = failed.get(index)
        if failure is None:
            merged.append(next(outputs))
        else:
            given = None if failure.input_json is None else json.loads(failure.input_json)
            merged.append({"item": failure.item, "input": given, "error": failure.error})
    return merged


def parent_value(parent: Stage, output: ParentOutput, *, overridden: bool = False) -> Any:
    """A parent's stored output validated against what it declares it produces."""
    raw = _raw_parent(output)
    annotation = parent.produces()
    try:
        return adapter(annotation).validate_python(raw)
    except pydantic.ValidationError as exc:
        if overridden:
            raise SeamError(
                "the resume's input " + describe("", "has", raw, annotation, exc).strip()
            ) from exc
        raise SeamError(
            "the stored output of "
            + describe(f"`{parent.name}`", "has", raw, annotation, exc)
            + "; the code's models changed since it was stored: resume from "
            f"`{parent.name}` to produce it again"
        ) from exc


def check_input(stage: Stage, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate the stage's arguments; a mismatch is a :class:`SeamError` naming the field."""
    try:
        return stage.inputs.validate(raw)
    except ArgumentError as exc:
        # Say which input broke the seam, field by field, where one value is at fault.
        for name, value in raw.items():
            check = stage.inputs.adapters.get(name)
            if check is None:
                continue
            try:
                check.validate_python(value)
            except pydantic.ValidationError as error:
                source = _source(stage, name)
                raise SeamError(
                    f"stage `{stage.name}` cannot take its input: "
                    + describe(source, "gave", value, stage.param_types[name], error)
                ) from exc
        raise SeamError(f"stage `{stage.name}` cannot take its input: {exc}") from exc


def _source(stage: Stage, param: str) -> str:
    if not stage.parents:
        return "the run's input"
    if stage.fan_out:
        return f"its item (from `{stage.parents[0].name}` through each=)"
    if len(stage.parents) == 1:
        return f"`{stage.parents[0].name}`"
    return f"`{param}`"


def expand(stage: Stage, parent_output: Any) -> Expansion:
    """Call ``each`` on the parent's output and encode every item for the stage's parameter."""
    assert stage.each is not None
    items = stage.each(parent_output)
    if isinstance(items, str | bytes | dict) or not hasattr(items, "__iter__"):
        raise SeamError(
            f"each= of stage `{stage.name}` must return a list of items, got "
            f"{type(items).__name__}"
        )
    param = stage.params[0]
    check = stage.inputs.adapters.get(param)
    exact = stage.inputs.plain_type(param)
    limit = stage.pipeline.app.max_payload_bytes
    encoded: list[str] = []
    for index, value in enumerate(items):
        try:
            # An int for an `int` parameter (a str for `str`...) is valid as it is: a fan-out
            # over ids or keys skips pydantic for each of its items.
            plain = value if check is None or type(value) is exact else check.dump_python(
                check.validate_python(value), mode="json"
            )
            text = compact_json(plain)
        except pydantic.ValidationError as exc:
            raise SeamError(
                f"each= of stage `{stage.name}` made item {index}, which it cannot take: "
                + describe("the item", "has", value, stage.param_types[param], exc)
            ) from exc
        except (TypeError, ValueError) as exc:
            raise SeamError(
                f"each= of stage `{stage.name}` made item {index}, which JSON cannot hold "
                f"({exc}); make items plain data (expected {type_name(stage.param_types[param])})"
            ) from exc
        if len(text.encode()) > limit:
            raise SeamError(
                f"each= of stage `{stage.name}` made item {index} of {len(text.encode())} bytes, "
                f"over the limit of {limit} bytes (Conveyor(max_payload_bytes=...)); make items "
                "references (keys, ids) and load the data in the stage"
            )
        encoded.append(text)
    return Expansion(encoded)


def check_output(stage: Stage, result: Any) -> JSONText:
    """The stage's result as the JSON text to store; a violation ends the job as dead."""
    try:
        text = stage.output.encode(result, stage.pipeline.app.max_payload_bytes)
    except PayloadTooLargeError as exc:
        raise SeamError(str(exc)) from exc
    if stage.expect is not None:
        check_expectation(stage, text)
    return JSONText(text)


_EXPECT_CHARS = 300  # an output can be large; the error needs its beginning


def check_expectation(stage: Stage, output_json: str) -> None:
    """Call the stage's ``expect=`` on its output (typed, as a child receives it; for a
    fan-out stage, each item's output); raise :class:`ExpectationError` when it returns a
    falsy value or raises. The wording follows a schedule's broken expectation."""
    assert stage.expect is not None
    check = stage.output.adapter
    plain = json.loads(output_json)
    value = plain if check is None else check.validate_python(plain)
    try:
        kept = stage.expect(value)
    except Exception as exc:  # the user's check is arbitrary code; its failure is the finding
        raise ExpectationError(
            _clip(f"stage `{stage.name}` broke its expectation: expect raised "
                  f"{type(exc).__name__}: {exc}")
        ) from exc
    if not kept:  # None from a check that forgot to return is a bug worth seeing
        raise ExpectationError(
            _clip(f"stage `{stage.name}` broke its expectation: expect returned {kept!r} "
                  f"for output {output_json}")
        )


def _clip(text: str) -> str:
    return text if len(text) <= _EXPECT_CHARS else text[: _EXPECT_CHARS - 3] + "..."

