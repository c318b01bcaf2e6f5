"""Settings of the Django test project: the database comes from DJANGO_TEST_DATABASE (a SQLite
file path, or a postgresql:// URL), and Conveyor uses the same one."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

SECRET_KEY = "conveyor-django-test-project"
USE_TZ = True
INSTALLED_APPS = ["conveyor.contrib.django"]
CONVEYOR = {"APP": "shop.tasks:app"}

_database = os.environ["DJANGO_TEST_DATABASE"]
if _database.startswith("postgresql://"):
    _parts = urlsplit(_database)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _parts.path.lstrip("/"),
            "USER": _parts.username or "",
            "HOST": _parts.hostname or "",
            "PORT": str(_parts.port or ""),
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _database}}
