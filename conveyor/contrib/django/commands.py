"""Running the ``conveyor`` command from a management command."""

from __future__ import annotations

from conveyor.cli import main


def run_cli(args: list[str]) -> None:
    """Run ``conveyor ARGS`` in this process; exits with its status, as the command would."""
    main.main(args=args, prog_name="manage.py")
