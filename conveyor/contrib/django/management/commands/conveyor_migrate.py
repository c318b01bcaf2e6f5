"""``python manage.py conveyor_migrate``: create or upgrade Conveyor's tables."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from conveyor.contrib.django.conf import get_app


class Command(BaseCommand):  # type: ignore[misc]  # Django has no type hints
    """Create or upgrade Conveyor's tables in the configured database; print the version."""

    help = "Create or upgrade Conveyor's tables (in Django's database unless CONVEYOR['URL'])."

    def handle(self, *args: Any, **options: Any) -> None:
        """Migrate and report the schema version."""
        app = get_app()
        version = app.store.migrate()
        self.stdout.write(f"schema version {version} at {app.url}")
