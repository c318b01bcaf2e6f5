"""What every webhook Conveyor sends shares: its User-Agent, and an opener that refuses
redirects (following one would turn the POST into a GET without its body)."""

from __future__ import annotations

import urllib.request
from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def user_agent() -> str:
    """``conveyor/<version>``."""
    try:
        return f"conveyor/{version('conveyor')}"
    except PackageNotFoundError:
        return "conveyor/0"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Treat a redirect as a failure."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


opener = urllib.request.build_opener(_NoRedirects)
"""Opens requests without following redirects (a 3xx raises ``HTTPError``)."""
