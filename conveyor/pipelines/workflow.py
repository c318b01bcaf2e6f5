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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor._jobs import JobDefinition
from conveyor._names import check_job_name
from conveyor.errors import ConfigurationError
from conveyor.pipelines.graph import NODE_ARGS, WORKFLOW_GRAPH
from conveyor.pipelines.handle import RunHandle
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
        prepared = job.prepare(**args)
        meta = json.loads(prepared.meta_json)
        meta[NODE_ARGS] = json.loads(prepared.args_json)
        template = JobTemplate(
            queue=prepared.queue,
            name=prepared.name,
            max_attempts=prepared.max_attempts,
            priority=prepared.priority,
            timeout=prepared.timeout,
            tenant=prepared.tenant,
            meta_json=json.dumps(meta, separators=(",", ":")),
            limit_key=prepared.limit_key,
            limit_max=prepared.limit_max,
            rate_key=prepared.rate_key,
            rate_max=prepared.rate_max,
            rate_per=prepared.rate_per,
        )
        node = Node(node_name, job, template, tuple(p.name for p in parents))
        self.nodes[node_name] = node
        return node

    def _free_name(self, base: str) -> str:
        if base not in self.nodes:
            return base
        index = 2
        while f"{base}#{index}" in self.nodes:
            index += 1
        return f"{base}#{index}"

    def _new_run(self) -> NewRun:
        if not self.nodes:
            raise ConfigurationError("this workflow has no nodes; add some with wf.add(job)")
        if self.started is not None:
            raise ConfigurationError(f"this workflow was started already (run {self.started.id})")
        graph = {WORKFLOW_GRAPH: True, "nodes": {n.name: n.job.name for n in self.nodes.values()}}
        return NewRun(
            pipeline=self.name,
            input_json="{}",
            stages=tuple(
                NewStage(name=n.name, template=n.template, parents=n.parents)
                for n in self.nodes.values()
            ),
            graph_json=json.dumps(graph, separators=(",", ":")),
        )

    def start(self, *, connection: object | None = None) -> RunHandle:
        """Write the run and the jobs of the nodes without parents (one transaction, or
        inside ``connection``'s); returns the run's handle."""
        run_id = self.app.store.start_run(self._new_run(), connection=connection)
        self.app._notify_local()
        self.started = RunHandle(self.app, run_id, self.name)
        return self.started

    async def start_async(self, *, connection: object | None = None) -> RunHandle:
        """The async twin of :meth:`start`."""
        run_id = await self.app.async_store.start_run(self._new_run(), connection=connection)
        self.app._notify_local()
        self.started = RunHandle(self.app, run_id, self.name)
        return self.started
