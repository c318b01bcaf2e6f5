"""Reading ``settings.CONVEYOR`` and Django's ``DATABASES``.

``CONVEYOR`` keys: ``APP`` (required: ``"module:attribute"`` of your
:class:`~conveyor.Conveyor`), ``DATABASE`` (the Django alias whose connection enqueues go
through inside ``transaction.atomic()``; default ``"default"``) and ``TRANSACTIONAL``
(default True; False makes every enqueue use Conveyor's own connection).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connections

from conveyor._loading import load_app
from conveyor.app import Conveyor
from conveyor.errors import ConfigurationError

_lock = threading.Lock()
_loaded: dict[str, Conveyor] = {}

KEYS = frozenset({"APP", "DATABASE", "TRANSACTIONAL"})


def _config() -> dict[str, Any]:
    config = getattr(settings, "CONVEYOR", None)
    if not isinstance(config, dict) or not isinstance(config.get("APP"), str):
        raise ConfigurationError(
            'settings.CONVEYOR must be a dict naming your app, e.g. CONVEYOR = {"APP": '
            '"shop.jobs:app"} (the module and attribute of your Conveyor app)'
        )
    unknown = sorted(set(config) - KEYS)
    if unknown:
        raise ConfigurationError(
            f"settings.CONVEYOR has unknown keys {unknown}; the keys are {sorted(KEYS)}"
        )
    alias = config.get("DATABASE", "default")
    if alias not in settings.DATABASES:
        raise ConfigurationError(
            f"settings.CONVEYOR['DATABASE'] is {alias!r}, which is not in DATABASES "
            f"({sorted(settings.DATABASES)})"
        )
    return config


def conveyor_app() -> Conveyor:
    """The Conveyor app named by ``settings.CONVEYOR["APP"]``, loaded once per process.

    Unless ``TRANSACTIONAL`` is False, its enqueues inside ``transaction.atomic()`` on the
    configured database go through Django's connection (see :func:`django_connection`).
    """
    config = _config()
    spec: str = config["APP"]
    with _lock:
        app = _loaded.get(spec)
        if app is None:
            app = load_app(spec)
            if config.get("TRANSACTIONAL", True):
                alias = config.get("DATABASE", "default")
                app.default_connection = lambda: django_connection(alias)
            _loaded[spec] = app
    return app


def django_connection(alias: str = "default") -> object | None:
    """The raw DB-API connection under Django's ``alias`` while it is inside
    ``transaction.atomic()``, else None (Conveyor then uses its own connection)."""
    wrapper = connections[alias]
    if not wrapper.in_atomic_block:
        return None
    wrapper.ensure_connection()
    raw: object = wrapper.connection
    return raw


def database_url(alias: str = "default") -> str:
    """A Conveyor store URL for Django's database ``alias`` (PostgreSQL or SQLite), so that
    jobs live beside your models and can share their transactions."""
    db = settings.DATABASES[alias]
    engine = str(db.get("ENGINE", ""))
    if engine.endswith("sqlite3"):
        name = str(db.get("NAME", ""))
        if not name or name == ":memory:":
            raise ConfigurationError(
                f"Django database {alias!r} is an in-memory SQLite database, which worker "
                "processes cannot share; give it a file NAME"
            )
        return f"sqlite:///{Path(name).resolve()}"
    if engine.endswith(("postgresql", "postgis")):
        user = quote(str(db.get("USER") or ""), safe="")
        password = quote(str(db.get("PASSWORD") or ""), safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = str(db.get("HOST") or "")
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgresql://{auth}{host}{port}/{quote(str(db['NAME']), safe='')}"
    raise ConfigurationError(
        f"Django database {alias!r} uses {engine!r}; Conveyor runs on PostgreSQL or SQLite"
    )
