"""Declaring a pipeline: ``app.pipeline(name)`` and ``@pipeline.stage(after=..., each=...)``.

Each stage is an ordinary registered job named ``"<pipeline>.<stage>"`` whose handler is the
stage wrapper (:mod:`conveyor.pipelines.wrapper`), so every job option applies unchanged. The
seam between a stage and its parents is checked here, when the stage is declared.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pydantic

from conveyor._args import ArgsSpec
from conveyor._durations import Duration, to_seconds
from conveyor._jobs import JobDefinition
from conveyor._names import check_job_name
from conveyor.errors import ConfigurationError
from conveyor.pipelines.seams import OutputCheck, seam_problem, type_name
from conveyor.store.contract.run_records import JobTemplate

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.pipelines.handle import RunHandle
    from conveyor.store.contract.records import NewJob

ON_ITEM_FAILURE = ("fail", "skip", "collect")
"""What a failed item of a fan-out stage does: fail the run, be left out, or be handed on."""

Each = Callable[[Any], Sequence[Any]]
"""Turns a fan-out stage's parent output into its items (one job per item)."""


class ItemFailure(pydantic.BaseModel):
    """A failed item of a fan-out stage, as a collector under ``on_item_failure="collect"``
    receives it in the item's place: its number, its input and its last attempt's error."""

    item: int
    input: Any = None
    error: str | None = None


class Stage:
    """One declared stage: its handler, its parents, and the job it runs as.

    Calling the stage runs the handler directly (useful in tests). ``job`` is the registered
    job definition (named ``"<pipeline>.<stage>"``).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        fn: Callable[..., Any],
        name: str,
        parents: tuple[Stage, ...],
        each: Each | None,
        on_item_failure: str,
        expect: Callable[[Any], bool] | None,
    ) -> None:
        self.pipeline = pipeline
        self.fn = fn
        self.name = name
        self.parents = parents
        self.each = each
        self.on_item_failure = on_item_failure
        self.expect = expect
        self.is_async = inspect.iscoroutinefunction(fn)
        self.label = f"stage `{name}`"
        self.inputs = ArgsSpec(fn, f"{pipeline.name}.{name}")
        hints = _hints(fn, self.label)
        self.returns: object = hints.get("return", Any)
        self.output = OutputCheck(name, self.returns)
        self.params = [p.name for p in self.inputs.signature.parameters.values()]
        self.param_types = {p: hints.get(p, Any) for p in self.params}
        self.job: JobDefinition[Any, Any]  # set by Pipeline.stage once the seams are checked

    def __repr__(self) -> str:
        return f"<stage {self.pipeline.name}.{self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def template(
        self, tenant: str | None = None, seen: dict[str, NewJob] | None = None
    ) -> JobTemplate:
        """How the store makes this stage's jobs, from the job options the code declares now.

        With ``seen`` (a run being started), the app's enqueue middleware sees the stage's
        job (its headers, such as trace context, go into the template) and the prepared job
        is kept in ``seen`` under the stage's name, for their ``after_enqueue`` once the run
        is written; without it, nothing but validation runs.
        """
        # prepare() validates and fills everything a job row needs; a stage job's arguments
        # are written by the store, so placeholders stand in for them here.
        if seen is None:
            job = self.job.validate(run_id=0, stage_run_id=0, item=0, tenant=tenant)
        else:
            job = self.job.prepare(run_id=0, stage_run_id=0, item=0, tenant=tenant)
            seen[self.name] = job
        return JobTemplate.of(job)

    @property
    def fan_out(self) -> bool:
        """True when the stage runs one job per item (``each=``)."""
        return self.each is not None

    def produces(self) -> object:
        """The type a child receives from this stage: its return type, or for a fan-out
        stage the list of its items' outputs (with :class:`ItemFailure` under "collect")."""
        if not self.fan_out:
            return self.returns
        if self.on_item_failure == "collect":
            return types.GenericAlias(list, (typing.Union[self.returns, ItemFailure],))  # noqa: UP007
        return types.GenericAlias(list, (self.returns,))


class Pipeline:
    """A named chain (or graph) of stages; declare with :meth:`Conveyor.pipeline`.

    ``deadline`` (a duration) is how long a run may take in all; ``stall`` is how long a run
    may go without any stage finishing. Both are recorded on each run for the monitor.
    """

    def __init__(
        self,
        app: Conveyor,
        name: str,
        *,
        deadline: Duration | None = None,
        stall: Duration | None = None,
    ) -> None:
        self.app = app
        self.name = check_job_name(name)
        if "." in name:
            raise ConfigurationError(
                f"pipeline name {name!r} may not contain '.': stage jobs are named "
                "'<pipeline>.<stage>'"
            )
        self.deadline = None if deadline is None else _positive(deadline, "deadline")
        self.stall = None if stall is None else _positive(stall, "stall")
        self.stages: dict[str, Stage] = {}

    def __repr__(self) -> str:
        return f"<pipeline {self.name} stages={list(self.stages)}>"

    @property
    def roots(self) -> list[Stage]:
        """The stages with no parents: they receive the run's input."""
        return [s for s in self.stages.values() if not s.parents]

    @property
    def sinks(self) -> list[Stage]:
        """The stages no other stage follows: their outputs are the run's result."""
        followed = {p.name for s in self.stages.values() for p in s.parents}
        return [s for s in self.stages.values() if s.name not in followed]

    def children(self, stage: str) -> list[Stage]:
        """The stages declared ``after=`` ``stage``."""
        return [s for s in self.stages.values() if any(p.name == stage for p in s.parents)]

    def stage(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        after: Stage | str | Sequence[Stage | str] | None = None,
        each: Each | None = None,
        on_item_failure: str = "fail",
        expect: Callable[[Any], bool] | None = None,
        **job_options: Any,
    ) -> Any:
        """Declare a stage: ``@pipeline.stage`` or ``@pipeline.stage(after=fetch, ...)``.

        ``after`` names the parent stage(s), declared before. The first stage takes the
        run's input as its parameters; a stage after one parent takes the parent's output as
        its one parameter; after several, one parameter per parent, named after it. ``each``
        turns the parent's output into items, one job per item (the stage's one parameter
        takes an item); the stage after it gets the list of item outputs in item order.
        ``on_item_failure`` is "fail" (the run fails at once), "skip" (failed items are left
        out) or "collect" (an :class:`ItemFailure` stands in their place). ``job_options`` are
        :meth:`Conveyor.job`'s (queue, retries, timeout, limit...). The seams with the
        parents are checked now: :class:`ConfigurationError` names both stages and the field.
        """

        def register(handler: Callable[..., Any]) -> Stage:
            return self._register(
                handler, name, after, each, on_item_failure, expect, job_options
            )

        return register(fn) if fn is not None else register

    def _register(
        self,
        fn: Callable[..., Any],
        name: str | None,
        after: Stage | str | Sequence[Stage | str] | None,
        each: Each | None,
        on_item_failure: str,
        expect: Callable[[Any], bool] | None,
        job_options: dict[str, Any],
    ) -> Stage:
        if not callable(fn):
            raise ConfigurationError(f"@pipeline.stage decorates functions, got {fn!r}")
        stage_name = check_job_name(name or fn.__name__)
        if "." in stage_name or stage_name in self.stages:
            raise ConfigurationError(
                f"pipeline {self.name!r}: stage name {stage_name!r} is "
                + ("declared twice" if stage_name in self.stages else "not allowed (no '.')")
                + "; give one of them name=..."
            )
        if on_item_failure not in ON_ITEM_FAILURE:
            raise ConfigurationError(
                f"pipeline {self.name!r}, stage {stage_name!r}: on_item_failure must be one of "
                f"{', '.join(ON_ITEM_FAILURE)}, got {on_item_failure!r}"
            )
        for option in ("unique", "unique_for"):
            if job_options.get(option) is not None:
                raise ConfigurationError(
                    f"pipeline {self.name!r}, stage {stage_name!r}: {option}= does not apply "
                    "to a stage (a run runs each stage once); make the run's first stage "
                    "idempotent, or guard effects with ctx.once()"
                )
        if each is not None and not callable(each):
            raise ConfigurationError(
                f"pipeline {self.name!r}, stage {stage_name!r}: each= takes a function from "
                f"the parent's output to a list of items, got {each!r}"
            )
        if expect is not None and not callable(expect):
            raise ConfigurationError(
                f"pipeline {self.name!r}, stage {stage_name!r}: expect= takes a function of "
                f"the stage's output returning bool, got {expect!r}"
            )
        parents = self._parents(stage_name, after)
        stage = Stage(self, fn, stage_name, parents, each, on_item_failure, expect)
        check_seams(stage)
        from conveyor.pipelines.wrapper import stage_handler

        stage.job = self.app.job(name=f"{self.name}.{stage_name}", **job_options)(
            stage_handler(stage)
        )
        stage.job.in_run = True
        self.stages[stage_name] = stage
        return stage

    def _parents(
        self, stage_name: str, after: Stage | str | Sequence[Stage | str] | None
    ) -> tuple[Stage, ...]:
        if after is None:
            return ()
        listed = [after] if isinstance(after, Stage | str) else list(after)
        parents: list[Stage] = []
        for parent in listed:
            key = parent.name if isinstance(parent, Stage) else parent
            found = self.stages.get(key) if isinstance(key, str) else None
            if found is None or (isinstance(parent, Stage) and parent is not found):
                raise ConfigurationError(
                    f"pipeline {self.name!r}, stage {stage_name!r}: after={parent!r} is not a "
                    f"stage declared before it on this pipeline (declared: "
                    f"{', '.join(self.stages) or 'none'})"
                )
            if found in parents:
                raise ConfigurationError(
                    f"pipeline {self.name!r}, stage {stage_name!r}: {key!r} is listed twice "
                    "in after="
                )
            parents.append(found)
        return tuple(parents)

    def start(self, *, connection: object | None = None, **inputs: Any) -> RunHandle:
        """Start a run with ``inputs`` as the first stage's arguments; returns its handle.

        The input is validated against the first stage's parameters now
        (:class:`ArgumentError` otherwise). With ``connection=``, the run and its first job are
        written in that connection's open transaction. ``tenant=`` makes every job of the run
        that tenant's (claims take turns between tenants, see docs/queues.md).
        """
        from conveyor.pipelines.runs import start_run

        return start_run(self, inputs, connection=connection)

    async def start_async(self, *, connection: object | None = None, **inputs: Any) -> RunHandle:
        """The async twin of :meth:`start`."""
        from conveyor.pipelines.runs import start_run_async

        return await start_run_async(self, inputs, connection=connection)


def check_seams(stage: Stage) -> None:
    """Check the stage's parameters against what its parents produce; raise
    :class:`ConfigurationError` naming both stages and the mismatching field."""
    where = f"pipeline {stage.pipeline.name!r}, stage `{stage.name}`"
    if stage.fan_out and len(stage.parents) != 1:
        raise ConfigurationError(
            f"{where}: each= needs exactly one parent (after=...), whose output it turns into "
            f"items; it has {len(stage.parents)}"
        )
    if not stage.parents:
        return
    if len(stage.parents) == 1:
        if len(stage.params) != 1:
            takes = "one item" if stage.fan_out else f"the output of `{stage.parents[0].name}`"
            raise ConfigurationError(
                f"{where} must take exactly one parameter after ctx ({takes}); it takes "
                f"{len(stage.params)}: {', '.join(stage.params) or 'none'}"
            )
        if stage.fan_out:
            _check_items(stage, where)
            return
        _check_one(stage, stage.parents[0], stage.params[0], where)
        return
    names = [p.name for p in stage.parents]
    if sorted(stage.params) != sorted(names):
        raise ConfigurationError(
            f"{where} follows {', '.join(names)}: it must take one parameter per parent, "
            f"named after it ({', '.join(names)}); it takes {', '.join(stage.params) or 'none'}"
        )
    for parent in stage.parents:
        _check_one(stage, parent, parent.name, where)


def _check_one(stage: Stage, parent: Stage, param: str, where: str) -> None:
    expected = stage.param_types[param]
    produced = parent.produces()
    problem = seam_problem(expected, produced)
    if problem is not None:
        raise ConfigurationError(
            f"{where} cannot take what stage `{parent.name}` returns: `{stage.name}` takes "
            f"`{param}: {type_name(expected)}`, `{parent.name}` returns "
            f"{type_name(produced)}: {problem}. Change one of them so they agree"
        )


def _check_items(stage: Stage, where: str) -> None:
    """A fan-out stage's item type, when its ``each`` function declares what it returns."""
    assert stage.each is not None
    try:
        returns = typing.get_type_hints(stage.each).get("return")
    except Exception:  # a lambda or an unresolvable annotation: checked at run time
        return
    args = typing.get_args(returns)
    if returns is None or len(args) != 1:
        return
    param = stage.params[0]
    problem = seam_problem(stage.param_types[param], args[0])
    if problem is not None:
        raise ConfigurationError(
            f"{where} cannot take the items its each= returns ({type_name(returns)}): it takes "
            f"`{param}: {type_name(stage.param_types[param])}`: {problem}"
        )


def _hints(fn: Callable[..., Any], label: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception as exc:
        raise ConfigurationError(
            f"{label}: cannot resolve the handler's type annotations ({exc})"
        ) from exc


def _positive(value: Duration, what: str) -> float:
    seconds = to_seconds(value, what=what)
    if seconds <= 0:
        raise ConfigurationError(f"a pipeline's {what}= must be positive, got {value!r}")
    return seconds
