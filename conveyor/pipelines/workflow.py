"""Graphs built at run time: ``wf = app.workflow(); a = wf.add(job, **args); wf.add(other,
after=[a]); wf.start()``.

Every node is a job declared with ``@app.job``, run with the arguments given to ``add`` (kept
in its job template's meta, so the worker needs no extra read) after its parents succeed. A
workflow run is stored like a pipeline run (same tables, the same one-transaction advance,
the same cancel, resume and visibility); its graph is recorded on the run, so a resume needs
no code to rebuild it. Nodes take their own arguments, not their parents' outputs: the edges
order the work, and each node's output is kept with the run (``run.status()``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor._jobs import JobDefinition
from conveyor._names import check_job_name
from conveyor.errors import ConfigurationError
from conveyor.middleware import not_enqueued
from conveyor.pipelines.graph import NODE_ARGS, WORKFLOW_GRAPH
from conveyor.pipelines.handle import RunHandle
from conveyor.pipelines.runs import settle_stages
from conveyor.store.contract.records import NewJob
from conveyor.store.contract.run_records import JobTemplate, NewRun, NewStage

if TYPE_CHECKING:
    from conveyor.app import Conveyor



@dataclass(frozen=True)
class Node:
    """One node added to a workflow: its name in the run and its job."""

    name: str
    job: JobDefinition[Any, Any]
    template: JobTemplate
    parents: tuple[str, ...]
    prepared: NewJob | None = field(default=None, repr=False, compare=False)
    """The node's job as validated at :meth:`Workflow.add` (enqueue middleware sees it at
    :meth:`Workflow.start`, not before: a workflow never started starts no span)."""


class Workflow:
    """A graph of declared jobs built at run time; made by :meth:`Conveyor.workflow`."""

    def __init__(self, app: Conveyor, name: str = "workflow") -> None:
        self.app = app
        self.name = check_job_name(name)
        self.nodes: dict[str, Node] = {}
        self.started: RunHandle | None = None

    def __repr__(self) -> str:
        return f"<workflow {self.name} nodes={list(self.nodes)}>"

    def add(
        self,
        job: JobDefinition[Any, Any],
        /,
        *,
        after: Node | Sequence[Node] = (),
        name: str | None = None,
        **args: Any,
    ) -> Node:
        """Add a node that runs ``job`` with ``args`` once every node in ``after`` succeeded.

        ``name`` names the node in the run (default: the job's name, numbered when it
        repeats). Arguments are validated now, as ``enqueue`` validates them (job options
        such as ``queue=`` or ``priority=`` apply too); raises :class:`ArgumentError` or
        :class:`ConfigurationError`.
        """
        if self.started is not None:
            raise ConfigurationError("this workflow was started; build a new one to add nodes")
        if not isinstance(job, JobDefinition) or job.app is not self.app:
            raise ConfigurationError(
                f"workflow nodes are jobs declared with @app.job on this app, got {job!r}"
            )
        parents = (after,) if isinstance(after, Node) else tuple(after)
        for parent in parents:
            if not isinstance(parent, Node) or self.nodes.get(parent.name) is not parent:
                raise ConfigurationError(
                    f"after= takes nodes this workflow's add() returned, got {parent!r}"
                )
        node_name = check_job_name(name) if name is not None else self._free_name(job.name)
        if node_name in self.nodes:
            raise ConfigurationError(f"workflow node {node_name!r} is added twice")
        prepared = job.validate(**args)
        node = Node(node_name, job, _template(prepared), tuple(p.name for p in parents), prepared)
        self.nodes[node_name] = node
        return node

    def _free_name(self, base: str) -> str:
        if base not in self.nodes:
            return base
        index = 2
        while f"{base}#{index}" in self.nodes:
            index += 1
        return f"{base}#{index}"

    def _new_run(self, seen: dict[str, NewJob]) -> NewRun:
        """The run to write; the enqueue middleware sees each node's job now (kept in
        ``seen`` by node name, for :func:`~conveyor.pipelines.runs.settle_stages`)."""
        if not self.nodes:
            raise ConfigurationError("this workflow has no nodes; add some with wf.add(job)")
        if self.started is not None:
            raise ConfigurationError(f"this workflow was started already (run {self.started.id})")
        stages = []
        for n in self.nodes.values():
            template = n.template
            if n.prepared is not None and self.app.middleware:
                observed = n.job.observe(n.prepared)
                seen[n.name] = observed
                template = _template(observed)
            stages.append(NewStage(name=n.name, template=template, parents=n.parents))
        graph = {WORKFLOW_GRAPH: True, "nodes": {n.name: n.job.name for n in self.nodes.values()}}
        return NewRun(
            pipeline=self.name,
            input_json="{}",
            stages=tuple(stages),
            graph_json=json.dumps(graph, separators=(",", ":")),
        )

    def start(self, *, connection: object | None = None) -> RunHandle:
        """Write the run and the jobs of the nodes without parents (one transaction, or
        inside ``connection``'s); returns the run's handle."""
        seen: dict[str, NewJob] = {}
        try:
            run_id = self.app.store.start_run(self._new_run(seen), connection=connection)
        except BaseException as exc:
            not_enqueued(seen.values(), exc)
            raise
        self.app._notify_local()
        if seen:
            settle_stages(seen, None if connection is not None else self.app.store.get_run(run_id))
        self.started = RunHandle(self.app, run_id, self.name)
        return self.started

    async def start_async(self, *, connection: object | None = None) -> RunHandle:
        """The async twin of :meth:`start`."""
        seen: dict[str, NewJob] = {}
        try:
            run_id = await self.app.async_store.start_run(
                self._new_run(seen), connection=connection
            )
        except BaseException as exc:
            not_enqueued(seen.values(), exc)
            raise
        self.app._notify_local()
        if seen:
            detail = None if connection is not None else await self.app.async_store.get_run(run_id)
            settle_stages(seen, detail)
        self.started = RunHandle(self.app, run_id, self.name)
        return self.started


def _template(prepared: NewJob) -> JobTemplate:
    """A node's job template: the prepared job's options, its arguments kept in meta."""
    meta = json.loads(prepared.meta_json)
    meta[NODE_ARGS] = json.loads(prepared.args_json)
    return JobTemplate.of(prepared, json.dumps(meta, separators=(",", ":")))
