"""The web dashboard and JSON HTTP API (Starlette): ``create_app(app, tokens=...)``.

Needs the ``web`` extra: ``pip install 'conveyor[web]'``. See docs/dashboard.md.
"""

from conveyor.web.app import create_app
from conveyor.web.auth import Principal, Role, random_token
from conveyor.web.events import StreamLimits

__all__ = ["Principal", "Role", "StreamLimits", "create_app", "random_token"]
