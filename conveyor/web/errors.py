"""The web layer's error type and the request-size limit, below every other web module.

:mod:`conveyor.web.web_context` re-exports both; they live here so that the modules it imports
(auth, forms, throttle) can raise them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException

MAX_BODY_BYTES = 1024 * 1024
"""Largest request body read, JSON or form; a job's own payload limit (``max_payload_bytes``)
still applies."""


class ApiError(HTTPException):
    """A 4xx with a JSON body ``{"error": code, "message": ...}`` that says what was wrong.

    ``headers`` go on the response (``Retry-After`` on a 429); other keywords join the body.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(status, message, headers=dict(headers) if headers else None)
        self.code = code
        self.extra = extra
