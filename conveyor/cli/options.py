"""Options every command shares (``--app``, ``--url``, ``--json``) and how they resolve.

The store URL is taken, in order, from an explicit ``--url``, then the app's own ``url`` when an
app is given, then ``CONVEYOR_URL``, then the default ``sqlite:///conveyor.db``.
"""

from __future__ import annotations

import functools
import os
import re
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
    def wrapper(
        *args: Any, app_spec: str | None, url: str | None, app_arg: str | None = None,
        **kwargs: Any,
    ) -> Any:
        ctx = click.get_current_context()
        explicit = ctx.get_parameter_source("url") is ParameterSource.COMMANDLINE
        spec = chosen_app(ctx, app_arg, app_spec)
        return fn(*args, target=Target(spec, url, explicit), **kwargs)

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


APP_ARGUMENT = "app_arg"
"""The name of the optional positional APP a command takes besides ``--app``."""
_LOOKS_LIKE_APP = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")


def chosen_app(ctx: click.Context, app_arg: str | None, app_option: str | None) -> str | None:
    """The app a command was given: its positional APP or ``--app`` (or ``CONVEYOR_APP``).

    Giving both on the command line with different values is refused, since neither can be
    assumed to be the one meant; a positional APP wins over the environment variable.
    """
    if not app_arg:
        return app_option
    from_line = ctx.get_parameter_source("app_spec") is ParameterSource.COMMANDLINE
    if app_option and from_line and app_option != app_arg:
        raise click.UsageError(
            f"the app is given twice, as APP ({app_arg}) and as --app ({app_option}); "
            "give it once", ctx
        )
    return app_arg


def accept_positional_app(command: click.Command) -> None:
    """Let every command under ``command`` that takes ``--app`` and no argument of its own
    take the app as its positional ``[APP]`` too, as ``conveyor worker APP`` does.

    Commands with arguments of their own (job ids, names) keep ``--app`` alone: an optional
    APP beside them would be ambiguous. :func:`app_usage_hint` explains that when it bites.
    Groups are walked, not changed: a group's own argument would read as a subcommand.
    """
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_positional_app(sub)
        return
    names = {p.name for p in command.params}
    if "app_spec" not in names or APP_ARGUMENT in names:
        return
    if any(isinstance(p, click.Argument) for p in command.params):
        return
    command.params.append(click.Argument([APP_ARGUMENT], required=False, metavar="[APP]"))


def app_usage_hint(exc: click.UsageError) -> click.UsageError:
    """``exc`` with a hint when a command that takes only ``--app`` was given the app as an
    argument ("Got unexpected extra argument", or "No such command" of a group)."""
    ctx = exc.ctx
    if ctx is None or not any(p.name == "app_spec" for p in ctx.command.params):
        return exc
    found = re.search(r"extra arguments? \((.*?)\)|No such command '(.*?)'", exc.message)
    if found is None:
        return exc
    tokens = (found.group(1) or found.group(2) or "").split()
    spec = next((t for t in tokens if _LOOKS_LIKE_APP.match(t) and not t.isdigit()), None)
    if spec is None:
        return exc
    return click.UsageError(
        f"{exc.message.rstrip('.')}. `{ctx.command_path}` takes your app as an option, not as an "
        f"argument: `{ctx.command_path} ... --app {spec}` (or set {APP_ENV}={spec})",
        ctx,
    )
