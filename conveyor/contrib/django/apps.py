"""The Django app config: loads the Conveyor app named in settings once Django is ready."""

from __future__ import annotations

from django.apps import AppConfig


class ConveyorConfig(AppConfig):  # type: ignore[misc]  # Django is untyped
    """``conveyor.contrib.django`` in ``INSTALLED_APPS``."""

    name = "conveyor.contrib.django"
    label = "conveyor"
    verbose_name = "Conveyor"

    def ready(self) -> None:
        """Load the app from ``settings.CONVEYOR["APP"]`` and route its enqueues through
        Django's connection inside ``transaction.atomic()``."""
        from conveyor.contrib.django.settings import conveyor_app

        conveyor_app()
