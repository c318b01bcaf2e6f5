"""Pipelines: stages that run as jobs, check the shape at every seam, fan out and in, and
resume where they stopped. Declare one with :meth:`conveyor.Conveyor.pipeline`; see
docs/pipelines.md."""

from conveyor.pipelines.declare import ItemFailure, Pipeline, Stage
from conveyor.pipelines.handle import RunHandle, RunStatus, StageStatus
from conveyor.pipelines.resume import ResumePlan
from conveyor.pipelines.seams import ExpectationError, SeamError
from conveyor.pipelines.workflow import Node, Workflow

__all__ = [
    "ExpectationError",
    "ItemFailure",
    "Node",
    "Pipeline",
    "ResumePlan",
    "RunHandle",
    "RunStatus",
    "SeamError",
    "Stage",
    "StageStatus",
    "Workflow",
]
