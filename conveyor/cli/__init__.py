"""The ``conveyor`` command: workers, queues, jobs, pipeline runs, the dead-letter queue,
schedules, the standalone scheduler, usage, alerts, check-ins, the monitor, the dashboard and
a demo.

Every :class:`~conveyor.errors.ConveyorError` ends the command with ``error: <message>`` on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from conveyor import __version__
from conveyor.errors import ConveyorError

ERROR_EXIT = 2

COMMANDS = {
    "migrate": "queues",
    "queues": "queues",
    "jobs": "jobs",
    "runs": "runs",
    "dlq": "dlq",
    "enqueue": "enqueue",
    "worker": "worker",
    "schedules": "schedules",
    "alerts": "alerts",
    "checkin": "checkin",
    "monitor": "monitor",
    "scheduler": "scheduler",
    "scale-hint": "scale_hint",
    "usage": "usage",
    "dashboard": "dashboard",
    "demo": "demo",
}
"""Each command and the module under ``conveyor.cli`` that defines it (imported when used:
every command is a process of its own, and its start-up time is the user's wait)."""


class ConveyorGroup(click.Group):
    """A click group that turns Conveyor's errors into one clear line and exit status 2, and
    imports a command's module only when that command runs (or help lists it)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, in the order of :data:`COMMANDS`."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import the command's module and return the command, or None if there is none."""
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(importlib.import_module(f"conveyor.cli.{module}"),
                          cmd_name.replace("-", "_"))
        assert isinstance(command, click.Command)
        from conveyor.cli.options import accept_positional_app

        accept_positional_app(command)  # idempotent: a command gains [APP] once
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; report a :class:`ConveyorError` as ``error: ...``."""
        from conveyor.cli.options import app_usage_hint

        try:
            return super().invoke(ctx)
        except ConveyorError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(ERROR_EXIT)
        except click.UsageError as exc:
            raise app_usage_hint(exc) from None


@click.group(cls=ConveyorGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                  "max_content_width": 100})
@click.version_option(__version__, prog_name="conveyor")
def main() -> None:
    """Conveyor: background jobs that lose nothing and hide nothing.

    Point commands at your app with --app myapp:app (or CONVEYOR_APP) and at the store with
    --url (or CONVEYOR_URL). Try `conveyor demo` for a complete example.
    """


__all__ = ["main"]
