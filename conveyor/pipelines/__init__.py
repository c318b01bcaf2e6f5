"""Pipelines: stages that run as jobs, check the shape at every seam, fan out and in, and
resume where they stopped. Declare one with :meth:`conveyor.Conveyor.pipeline`; see
docs/pipelines.md."""

from conveyor.pipelines.declare import ItemFailure, Pipeline, Stage
from conveyor.pipelines.seams import ExpectationError, SeamError

__all__ = ["ExpectationError", "ItemFailure", "Pipeline", "SeamError", "Stage"]
