"""Schedules: when work should run, and the scheduler that fires it (docs/schedules.md)."""

from conveyor.schedules.definition import ScheduleDef
from conveyor.schedules.timing import Cron, Every, Timing

__all__ = ["Cron", "Every", "ScheduleDef", "Timing"]
