"""The monitor: alert rules over the store, incidents, and the sinks that deliver them.

See docs/alerts.md. Configure it with ``app.configure_monitor(rules=[...], sinks=[...])``.
The names below are imported on first use: every ``import conveyor`` loads this package (for
``app.configure_monitor``), and the sinks pull in ``urllib`` and ``smtplib``, which only a
monitor needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.monitor.config import Firing, Rule
    from conveyor.monitor.notice import Notice, NoticeKind
    from conveyor.monitor.rules import (
        BacklogGrowth,
        BlockedSequences,
        Budget,
        DeadLetterGrowth,
        Expirations,
        FailureRate,
        LongTransactions,
        NoWorker,
        QueueAge,
        StalledJobs,
        UnknownJobs,
        default_rules,
    )
    from conveyor.monitor.sinks import EmailSink, LogSink, Sink, SinkError, WebhookSink

_HOMES = {
    "Firing": "config",
    "Rule": "config",
    "Notice": "notice",
    "NoticeKind": "notice",
    "BacklogGrowth": "rules",
    "BlockedSequences": "rules",
    "Budget": "rules",
    "DeadLetterGrowth": "rules",
    "Expirations": "rules",
    "FailureRate": "rules",
    "LongTransactions": "rules",
    "NoWorker": "rules",
    "QueueAge": "rules",
    "StalledJobs": "rules",
    "UnknownJobs": "rules",
    "default_rules": "rules",
    "EmailSink": "sinks",
    "LogSink": "sinks",
    "Sink": "sinks",
    "SinkError": "sinks",
    "WebhookSink": "sinks",
}

__all__ = [
    "BacklogGrowth",
    "BlockedSequences",
    "Budget",
    "DeadLetterGrowth",
    "EmailSink",
    "Expirations",
    "FailureRate",
    "Firing",
    "LogSink",
    "LongTransactions",
    "NoWorker",
    "Notice",
    "NoticeKind",
    "QueueAge",
    "Rule",
    "Sink",
    "SinkError",
    "StalledJobs",
    "UnknownJobs",
    "WebhookSink",
    "default_rules",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'conveyor.monitor' has no attribute {name!r}")
    return getattr(importlib.import_module(f"conveyor.monitor.{home}"), name)
