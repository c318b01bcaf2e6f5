"""Conveyor in a Django project: settings, ``manage.py`` commands, and enqueue inside
``transaction.atomic()`` through Django's own connection.

Add ``"conveyor.contrib.django"`` to ``INSTALLED_APPS`` and name your app in settings::

    CONVEYOR = {"APP": "shop.jobs:app"}

Then, in ``shop/jobs.py``, build the app on Django's database::

    from conveyor import Conveyor
    from conveyor.contrib.django import database_url

    app = Conveyor(database_url())

Jobs enqueued inside ``transaction.atomic()`` are written through Django's connection and
commit or roll back with your models. ``manage.py conveyor_migrate`` creates Conveyor's tables
and ``manage.py conveyor_worker`` runs workers (any ``conveyor worker`` option passes through).
See docs/django.md.
"""

from __future__ import annotations

from conveyor.contrib.django.settings import conveyor_app, database_url, django_connection

__all__ = ["conveyor_app", "database_url", "django_connection"]
