"""Finding the user's app from a ``module:attribute`` string, as the CLI and workers do."""

from __future__ import annotations

import importlib
import os
import sys

from conveyor.app import Conveyor
from conveyor.errors import ConfigurationError


def load_app(spec: str) -> Conveyor:
    """Import ``module:attribute`` (or ``module``, meaning ``module:app``) and return the app.

    The current directory is put on ``sys.path`` first, as ``python -m`` would.
    """
    module_name, _, attribute = spec.partition(":")
    attribute = attribute or "app"
    if not module_name:
        raise ConfigurationError(f"app {spec!r} must look like 'myapp:app' (module:attribute)")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"cannot import {module_name!r} for app {spec!r}: {exc}; run from the folder that "
            "holds your module, or set PYTHONPATH"
        ) from exc
    try:
        app = getattr(module, attribute)
    except AttributeError:
        raise ConfigurationError(
            f"module {module_name!r} has no attribute {attribute!r}; point at your Conveyor "
            "instance, e.g. 'myapp:app'"
        ) from None
    if not isinstance(app, Conveyor):
        raise ConfigurationError(
            f"{spec!r} is a {type(app).__name__}, not a Conveyor app"
        )
    return app
