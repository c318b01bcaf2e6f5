"""``python manage.py conveyor_worker [conveyor worker options]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from conveyor.contrib.django.commands import run_cli


class Command(BaseCommand):  # type: ignore[misc]  # Django is untyped
    """Run Conveyor workers for the app in ``settings.CONVEYOR``."""

    help = ("Run Conveyor workers for settings.CONVEYOR['APP']; every `conveyor worker` option "
            "passes through (e.g. --queues emails --processes 2).")

    def add_arguments(self, parser: CommandParser) -> None:
        """Everything after the command name goes to ``conveyor worker``."""
        parser.add_argument("options", nargs="*", help="options of `conveyor worker`")

    def run_from_argv(self, argv: list[str]) -> None:
        """Pass the raw options through (Django's parser would reject the worker's own)."""
        run_cli(["worker", "conveyor.contrib.django.boot:app", *argv[2:]])

    def handle(self, *args: Any, **options: Any) -> None:
        """Called by ``call_command``: the options come as positional strings."""
        run_cli(["worker", "conveyor.contrib.django.boot:app", *options["options"]])
