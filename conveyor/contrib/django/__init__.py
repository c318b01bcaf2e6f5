"""Conveyor in a Django project: settings, the app found from them, enqueue inside
``transaction.atomic()`` through Django's own connection, and management commands.

Add ``"conveyor.contrib.django"`` to ``INSTALLED_APPS`` and name your app in settings::

    CONVEYOR = {
        "APP": "shop.tasks:app",   # your Conveyor instance, as module:attribute
        "URL": None,                # default: Django's "default" database (see below)
        "SCHEMA": None,             # PostgreSQL: keep Conveyor's tables in their own schema
    }

Without ``URL``, the app uses Django's ``default`` database (the same SQLite file, or the same
PostgreSQL database), so an enqueue inside ``transaction.atomic()`` is written by Django's
connection in that transaction: it exists if the block commits and never existed if it rolls
back. ``python manage.py conveyor_migrate`` creates Conveyor's tables; ``python manage.py
conveyor_worker [worker options]`` runs workers. See docs/django.md.
"""

from conveyor.contrib.django.conf import get_app, url_for_database

__all__ = ["get_app", "url_for_database"]
