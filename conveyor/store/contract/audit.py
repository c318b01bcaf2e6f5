"""The audit log: operator actions (from the dashboard, the API and the CLI), newest first.

See :mod:`conveyor.store.contract` for how to read the guarantees stated on each verb.
"""

from __future__ import annotations

from typing import Protocol

from conveyor.store.web_types import ActionRow


class AuditVerbs(Protocol):
    """Recording and listing operator actions."""

    def record_action(self, actor: str, action: str, target: str, details_json: str) -> int:
        """Record an operator action now; its id.

        Guarantees: one transaction. Not idempotent: each call records one more action.
        """
        ...

    def list_actions(
        self, limit: int = 100, before_id: int | None = None, target: str | None = None
    ) -> list[ActionRow]:
        """Actions newest first (keyset by id), all or those on one target.

        Guarantees: reads only: writes nothing, so it is safe to repeat.
        """
        ...
