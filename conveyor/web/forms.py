"""Reading an HTML form's body within limits, before anything parses it.

Starlette's ``request.form()`` reads the whole body and spools file parts to disk, so an
anonymous ``POST /login`` could hold hundreds of megabytes. :func:`read_form` is what every
form route calls instead: it refuses a declared ``Content-Length`` over the limit without
reading a byte, stops reading a streamed (chunked) body at the limit, and only then parses,
with caps on the number of fields and the size of each, and no file parts at all (no
dashboard form uploads a file).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request

from conveyor.web.errors import MAX_BODY_BYTES, ApiError

MAX_FORM_FIELDS = 100
"""Most fields a form may have; the dashboard's largest (a DLQ selection) has a few dozen."""
MAX_FIELD_BYTES = 64 * 1024
"""Largest single field (or multipart part); a job's new arguments fit well within it."""
_FORM_KINDS = ("application/x-www-form-urlencoded", "multipart/form-data")
_STATE_KEY = "conveyor_form"


async def read_form(request: Request) -> FormData:
    """The request's form fields, read and parsed at most once per request.

    Raises :class:`~conveyor.web.errors.ApiError` 413 when the body, a field or the number
    of fields is over its limit, and 400 when a multipart body is malformed. A body of
    another content type reads as an empty form, as Starlette does.
    """
    cached: FormData | None = getattr(request.state, _STATE_KEY, None)
    if cached is not None:
        return cached
    kind = request.headers.get("content-type", "").lower()
    if not kind.startswith(_FORM_KINDS):
        form = FormData()
    else:
        body = await read_body(request)
        form = await _parse(request, body)
    setattr(request.state, _STATE_KEY, form)
    return form


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """At most ``limit`` bytes of body: a 413 as soon as the declared or the streamed size
    is over it, so no more than ``limit`` plus one network chunk is ever held."""
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise too_large(f"the body is {int(declared)} bytes", limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(f"the body is over {size} bytes", limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(what: str, limit: int) -> ApiError:
    """The 413 for a body over ``limit`` bytes."""
    return ApiError(
        413, "too_large", f"{what}; the limit is {limit} bytes. Send a smaller form or request"
    )


async def _parse(request: Request, body: bytes) -> FormData:
    async def once() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        if request.headers.get("content-type", "").lower().startswith("multipart/"):
            return await MultiPartParser(
                request.headers,
                once(),
                max_files=0,
                max_fields=MAX_FORM_FIELDS,
                max_part_size=MAX_FIELD_BYTES,
            ).parse()
        return await FormParser(
            request.headers, once(), max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES
        ).parse()
    except MultiPartException as exc:
        # Starlette's messages name the limit ("Too many fields. Maximum number of fields is
        # 100.", "Part exceeded maximum size of 64KB."); anything else is a malformed body.
        if "maximum" in exc.message.lower():
            raise ApiError(
                413,
                "too_large",
                f"the form is over a limit: {exc.message} Dashboard forms have at most "
                f"{MAX_FORM_FIELDS} fields of {MAX_FIELD_BYTES // 1024} KiB each, and no files",
            ) from None
        raise ApiError(
            400, "invalid_form", f"the form could not be read ({exc.message}); send it again"
        ) from None
