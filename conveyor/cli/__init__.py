"""The ``conveyor`` command: workers, queues, jobs, the dead-letter queue and a demo.

Every :class:`~conveyor.errors.ConveyorError` ends the command with ``error: <message>`` on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

from typing import Any

import click

from conveyor import __version__
from conveyor.cli.demo import demo
from conveyor.cli.dlq import dlq
from conveyor.cli.enqueue import enqueue
from conveyor.cli.jobs import jobs
from conveyor.cli.queues import migrate, queues
from conveyor.cli.worker import worker
from conveyor.errors import ConveyorError

ERROR_EXIT = 2


class ConveyorGroup(click.Group):
    """A click group that turns Conveyor's errors into one clear line and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; report a :class:`ConveyorError` as ``error: ...``."""
        try:
            return super().invoke(ctx)
        except ConveyorError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(ERROR_EXIT)


@click.group(cls=ConveyorGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                  "max_content_width": 100})
@click.version_option(__version__, prog_name="conveyor")
def main() -> None:
    """Conveyor: background jobs that lose nothing and hide nothing.

    Point commands at your app with --app myapp:app (or CONVEYOR_APP) and at the store with
    --url (or CONVEYOR_URL). Try `conveyor demo` for a complete example.
    """


for _command in (migrate, queues, jobs, dlq, enqueue, worker, demo):
    main.add_command(_command)

__all__ = ["main"]
