"""The Django app config: ``INSTALLED_APPS = [..., "conveyor.contrib.django"]``."""

from __future__ import annotations

from django.apps import AppConfig


class ConveyorConfig(AppConfig):  # type: ignore[misc]  # Django has no type hints
    """Loads the app named in ``settings.CONVEYOR`` when Django starts, so every enqueue in the
    process (web requests, shells, management commands) joins Django's transactions."""

    name = "conveyor.contrib.django"
    label = "conveyor"
    verbose_name = "Conveyor"

    def ready(self) -> None:
        """Configure the app now: a bad setting fails at start-up, not at the first enqueue."""
        from conveyor.contrib.django.conf import get_app

        get_app()
