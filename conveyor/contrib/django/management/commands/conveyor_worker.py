"""``python manage.py conveyor_worker [options]``: ``conveyor worker`` for the configured app."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

WORKER_APP = "conveyor.contrib.django.worker_app:app"


class _PassThroughParser(CommandParser):  # type: ignore[misc]  # Django has no type hints
    """Keeps the options it does not know (``--burst``, ``--queues``...) for ``conveyor
    worker`` instead of refusing them, so they need not be declared twice."""

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:
        known: argparse.Namespace
        known, extra = self.parse_known_args(args, namespace)
        known.worker_args = extra  # in the order given: "--processes 2" stays together
        return known


class Command(BaseCommand):  # type: ignore[misc]  # Django has no type hints
    """Run workers for ``settings.CONVEYOR["APP"]``; every option of ``conveyor worker``
    (``--queues``, ``--concurrency``, ``--processes``, ``--burst``...) passes through."""

    help = "Run Conveyor workers for the app in settings.CONVEYOR (options as `conveyor worker`)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        """Django's parser, made to pass unknown options through (see the class above)."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _PassThroughParser
        return parser

    def handle(self, *args: Any, **options: Any) -> None:
        """Run ``conveyor worker`` in this process until it stops."""
        from conveyor.cli import main

        try:
            given = options.get("worker_args", [])
            main.main(["worker", WORKER_APP, *given], prog_name="conveyor",
                      standalone_mode=False)
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise CommandError(f"conveyor worker exited with status {exc.code}") from exc
