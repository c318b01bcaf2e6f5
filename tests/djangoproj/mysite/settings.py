"""Settings of the test project: the database comes from ``SHOP_DATABASE_URL``
(``sqlite:///path`` or ``postgresql://user@host:port/name``)."""

import os
from urllib.parse import unquote, urlsplit

SECRET_KEY = "tests-only-not-a-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "conveyor.contrib.django", "shop"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_url = urlsplit(os.environ["SHOP_DATABASE_URL"])
if _url.scheme == "sqlite":
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": _url.path[1:]}}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(_url.path[1:]),
            "USER": unquote(_url.username or ""),
            "PASSWORD": unquote(_url.password or ""),
            "HOST": _url.hostname or "",
            "PORT": str(_url.port or ""),
        }
    }

CONVEYOR = {"APP": "shop.jobs:app"}
