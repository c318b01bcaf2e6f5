"""Reading the ``CONVEYOR`` setting, and the app it names, wired to Django's connection."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from conveyor._loading import load_app
from conveyor.app import Conveyor

_lock = threading.Lock()
_configured: dict[str, Conveyor] = {}


def _setting() -> dict[str, Any]:
    value = getattr(settings, "CONVEYOR", None)
    if not isinstance(value, dict) or not value.get("APP"):
        raise ImproperlyConfigured(
            "Conveyor needs your app in settings: CONVEYOR = {\"APP\": \"myproject.tasks:app\"} "
            "(module:attribute of your Conveyor instance)"
        )
    unknown = set(value) - {"APP", "URL", "SCHEMA", "DATABASE"}
    if unknown:
        raise ImproperlyConfigured(
            f"CONVEYOR has unknown keys {sorted(unknown)}; it takes APP, URL, SCHEMA, DATABASE"
        )
    return value


def url_for_database(alias: str = "default") -> str:
    """A Conveyor store URL for one of Django's databases (SQLite or PostgreSQL)."""
    db = settings.DATABASES[alias]
    engine = db.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        name = str(db.get("NAME") or "")
        if not name or name == ":memory:" or name.startswith("file:"):
            raise ImproperlyConfigured(
                f"Conveyor cannot share the in-memory SQLite database of {alias!r}: workers in "
                "other processes could not see it; use a file, or set CONVEYOR['URL']"
            )
        return f"sqlite:///{name}"
    if engine == "django.db.backends.postgresql":
        user = quote(str(db.get("USER") or ""), safe="")
        password = quote(str(db.get("PASSWORD") or ""), safe="")
        login = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = str(db.get("HOST") or "")
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgresql://{login}{host}{port}/{quote(str(db.get('NAME') or ''), safe='')}"
    raise ImproperlyConfigured(
        f"Conveyor stores jobs in SQLite or PostgreSQL; database {alias!r} uses {engine!r}. "
        "Set CONVEYOR['URL'] to a store of its own"
    )


def get_app() -> Conveyor:
    """The app named by ``CONVEYOR["APP"]``, pointed at Django's database and joined to its
    transactions (once per process). Raises ``ImproperlyConfigured`` for a bad setting."""
    with _lock:
        value = _setting()
        spec = str(value["APP"])
        if spec in _configured:
            return _configured[spec]
        app = load_app(spec)
        alias = str(value.get("DATABASE") or "default")
        shared = not value.get("URL")
        app.url = str(value.get("URL") or url_for_database(alias))
        if value.get("SCHEMA"):
            app.schema = str(value["SCHEMA"])
        if shared:
            app.connection_provider = lambda: _atomic_connection(alias)
        _configured[spec] = app
        return app


def _atomic_connection(alias: str) -> object | None:
    """Django's driver connection while it is inside ``transaction.atomic()``, else None."""
    connection = connections[alias]
    if not connection.in_atomic_block:
        return None
    connection.ensure_connection()
    raw: object = connection.connection
    return raw
