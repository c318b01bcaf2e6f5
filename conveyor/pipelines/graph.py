"""What marks a workflow's run and its nodes' jobs (read by the worker and by resume)."""

from __future__ import annotations

import json
from typing import Any

NODE_ARGS = "node_args"
"""The key of a workflow node's arguments in its job's meta."""
WORKFLOW_GRAPH = "workflow"
"""The key that marks a run's graph as a workflow's."""


def node_args(meta: dict[str, Any]) -> dict[str, Any] | None:
    """A workflow node's own arguments from its job's meta, or None for any other job."""
    args = meta.get(NODE_ARGS)
    return args if isinstance(args, dict) else None


def is_workflow(graph_json: str) -> bool:
    """True when a run's stored graph is a workflow's."""
    try:
        graph = json.loads(graph_json)
    except ValueError:
        return False
    return isinstance(graph, dict) and graph.get(WORKFLOW_GRAPH) is True
