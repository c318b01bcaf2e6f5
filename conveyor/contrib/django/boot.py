"""``conveyor.contrib.django.boot:app``: the app spec for worker processes in a Django project.

Importing it sets Django up (from ``DJANGO_SETTINGS_MODULE``, which ``manage.py`` sets and
worker processes inherit) and then loads the app named in ``settings.CONVEYOR``, so jobs may
use models. ``manage.py conveyor_worker`` passes it; ``conveyor worker
conveyor.contrib.django.boot:app`` works the same with ``DJANGO_SETTINGS_MODULE`` set.
"""

from __future__ import annotations

import os

import django

from conveyor.errors import ConfigurationError

if not os.environ.get("DJANGO_SETTINGS_MODULE"):
    raise ConfigurationError(
        "set DJANGO_SETTINGS_MODULE (e.g. mysite.settings) to run Conveyor inside a Django "
        "project, or run `python manage.py conveyor_worker`"
    )
django.setup()

from conveyor.contrib.django.settings import conveyor_app  # noqa: E402  (after setup)

app = conveyor_app()
