"""``python manage.py conveyor_migrate``: create or upgrade Conveyor's tables."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from conveyor.contrib.django.settings import conveyor_app


class Command(BaseCommand):  # type: ignore[misc]  # Django is untyped
    """Create or upgrade Conveyor's tables in the app's store."""

    help = "Create or upgrade Conveyor's tables (in the store of settings.CONVEYOR['APP'])."

    def handle(self, *args: Any, **options: Any) -> None:
        """Migrate and print the schema version."""
        app = conveyor_app()
        version = app.store.migrate()
        self.stdout.write(f"Conveyor schema at version {version} in {app.url}")
