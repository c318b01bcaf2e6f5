"""Options every command shares (``--app``, ``--url``, ``--json``) and how they resolve.

The store URL is taken, in order, from an explicit ``--url``, then the app's own ``url`` when an
app is given, then ``CONVEYOR_URL``, then the default ``sqlite:///conveyor.db``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource

from conveyor._loading import load_app
from conveyor.app import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.store import DEFAULT_URL, open_store, sqlite_path
from conveyor.store.protocol import Store

APP_ENV = "CONVEYOR_APP"
URL_ENV = "CONVEYOR_URL"

Command = Callable[..., Any]


class Target:
    """What a command works on: the user's app (loaded on demand) and the store."""

    def __init__(self, app_spec: str | None, url: str | None, url_explicit: bool) -> None:
        self.app_spec = app_spec or None
        self.explicit_url = url if url_explicit else None
        self._app: Conveyor | None = None
        self._store: Store | None = None
        self._owns_store = False

    def app(self) -> Conveyor:
        """The app named by ``--app`` / ``CONVEYOR_APP``; raises when none was given."""
        if self._app is None:
            if not self.app_spec:
                raise ConfigurationError(
                    "this command needs your app: pass --app myapp:app (module:attribute) or "
                    f"set {APP_ENV}=myapp:app"
                )
            if self.explicit_url:
                # Apps built with Conveyor() read CONVEYOR_URL at import; --url must win.
                os.environ[URL_ENV] = self.explicit_url
            self._app = load_app(self.app_spec)
            if self.explicit_url:
                self._app.url = self.explicit_url
        return self._app

    def url(self) -> str:
        """The store URL this command uses."""
        if self.explicit_url:
            return self.explicit_url
        if self.app_spec:
            return self.app().url
        return os.environ.get(URL_ENV) or DEFAULT_URL

    def schema(self) -> str | None:
        """The PostgreSQL schema the app names, if any (else CONVEYOR_SCHEMA or public)."""
        return self.app().schema if self.app_spec else None

    def store(self, *, create: bool = False) -> Store:
        """The store, opened once. Unless ``create``, a missing SQLite file is an error.

        Inspecting a database that does not exist almost always means a wrong URL or folder,
        so the commands that only read or act on jobs refuse rather than create an empty one.
        """
        if self._store is None:
            url = self.url()
            path = sqlite_path(url)
            if not create and path is not None and not path.exists():
                raise ConfigurationError(
                    f"no Conveyor database at {str(path)!r} (from {url!r}); pass --url or set "
                    f"{URL_ENV} to your database, or run `conveyor migrate` to create it"
                )
            if self._app is not None and self._app.url == url:
                self._store = self._app.store
            else:
                self._store = open_store(url, schema=self.schema())
                self._owns_store = True
            click.get_current_context().call_on_close(self.close)
        return self._store

    def close(self) -> None:
        """Close what this command opened."""
        if self._owns_store and self._store is not None:
            self._store.close()
        if self._app is not None:
            self._app.close()
        self._store = None
        self._owns_store = False


def target_options(fn: Command) -> Command:
    """Add ``--app`` and ``--url`` to a command and pass it a :class:`Target` as ``target``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, app_spec: str | None, url: str | None, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        explicit = ctx.get_parameter_source("url") is ParameterSource.COMMANDLINE
        return fn(*args, target=Target(app_spec, url, explicit), **kwargs)

    wrapper = click.option(
        "--url",
        envvar=URL_ENV,
        metavar="URL",
        help=f"Store URL, e.g. sqlite:///conveyor.db [env {URL_ENV}; default: the app's URL].",
    )(wrapper)
    wrapper = click.option(
        "--app",
        "app_spec",
        envvar=APP_ENV,
        metavar="MODULE:ATTR",
        help=f"Your app, e.g. myapp:app [env {APP_ENV}].",
    )(wrapper)
    return wrapper


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document instead of a table."
)
