"""The audit log for the CLI: every command that changes state records who ran it.

The dashboard records each operator action with the signed-in user's name; a command records
the OS user who ran it (``--by`` where a command takes one), and ``"via": "cli"`` among the
details, so ``/actions`` shows both sides of the same log.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from typing import Any

from conveyor.store.protocol import Store

UNKNOWN = "unknown"
"""The actor when the system cannot tell who runs the command."""


def operator_name(by: str | None = None) -> str | None:
    """``--by``, else the OS user name (None when the system cannot tell)."""
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        return None


def record(store: Store, action: str, target: str, *, by: str | None = None,
           **details: Any) -> None:
    """Write one action of this command to the audit log, as the OS user (or ``by``)."""
    details["via"] = "cli"
    store.record_action(
        operator_name(by) or UNKNOWN, action, target, json.dumps(details, sort_keys=True)
    )


def jobs_target(ids: Sequence[int]) -> str:
    """``job:7`` for one job, ``jobs:7,8,9`` for several (the dashboard's form; 50 at most)."""
    if len(ids) == 1:
        return f"job:{ids[0]}"
    return "jobs:" + ",".join(str(i) for i in ids[:50])
