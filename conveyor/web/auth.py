"""Who is asking: tokens, a signed session cookie, an optional callback, roles and CSRF.

Authentication is on by default, even on loopback: every route but the login page and static
files needs a principal. API clients send ``Authorization: Bearer <token>``; a browser logs in
once with its token (``/login?token=...``) and then carries a session cookie signed with the
dashboard's secret. An app that mounts the dashboard can instead pass ``authenticate=``, a
function of the request that returns a :class:`Principal` (or None), to reuse its own login.

State-changing requests from a browser session must carry the session's CSRF token (a hidden
form field or an ``X-CSRF-Token`` header); requests with a bearer token need none, because a
browser never adds that header on its own.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import inspect
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace

from starlette.requests import Request

from conveyor.errors import ConfigurationError

SESSION_COOKIE = "conveyor_session"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class Role(enum.StrEnum):
    """What a principal may do: ``read`` sees everything, ``admin`` may also act."""

    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Someone allowed in, as recorded with every action they take."""

    name: str
    role: Role = Role.ADMIN
    via: str = "bearer"
    """How the request proved it: ``"bearer"`` (a token header), ``"session"`` (the cookie)
    or ``"callback"`` (the app's ``authenticate``)."""

    @property
    def can_act(self) -> bool:
        """True for admins: they may retry, cancel, replay, discard, pause and trigger."""
        return self.role is Role.ADMIN


Authenticate = Callable[[Request], "Principal | Awaitable[Principal | None] | None"]
"""A user-supplied check of a request, for a dashboard mounted inside an app."""


def random_token() -> str:
    """A fresh, unguessable token (as ``conveyor dashboard`` prints in its login URL)."""
    return secrets.token_urlsafe(24)


@dataclass
class AuthConfig:
    """The dashboard's credentials: tokens by value, an optional callback, the cookie secret."""

    tokens: Mapping[str, Principal] = field(default_factory=dict)
    authenticate: Authenticate | None = None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def __post_init__(self) -> None:
        if not self.tokens and self.authenticate is None:
            raise ConfigurationError(
                "the dashboard needs credentials: pass tokens={'<token>': 'admin'} (or "
                "'read'), or authenticate=<function of the request>; `conveyor dashboard` "
                "makes a random token for you"
            )
        for token in self.tokens:
            if len(token) < 16:
                raise ConfigurationError(
                    "dashboard tokens must be at least 16 characters; use "
                    "conveyor.web.random_token() for one"
                )

    @classmethod
    def build(
        cls,
        tokens: Mapping[str, str | Role] | None,
        authenticate: Authenticate | None,
        secret: str | bytes | None,
    ) -> AuthConfig:
        """From ``create_app``'s arguments: tokens map to a role name."""
        principals = {}
        for index, (token, role) in enumerate((tokens or {}).items()):
            try:
                principals[token] = Principal(f"token-{index + 1}", Role(role))
            except ValueError:
                raise ConfigurationError(
                    f"a dashboard token's role must be 'admin' or 'read', got {role!r}"
                ) from None
        key = secret.encode() if isinstance(secret, str) else secret
        return cls(principals, authenticate, key or secrets.token_bytes(32))

    # -- sessions ------------------------------------------------------------------------------

    def login(self, token: str) -> Principal | None:
        """The principal a token stands for (compared in constant time), or None."""
        for known, principal in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return principal
        return None

    def session_cookie(self, principal: Principal) -> str:
        """A signed cookie value carrying the principal, a fresh CSRF token and an expiry."""
        payload = json.dumps(
            {
                "n": principal.name,
                "r": principal.role.value,
                "c": secrets.token_urlsafe(16),
                "e": int(time.time() + SESSION_SECONDS),
            },
            separators=(",", ":"),
        ).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()

    def from_cookie(self, value: str | None) -> Principal | None:
        """The principal of a valid, unexpired session cookie, or None."""
        if not value or "." not in value:
            return None
        body, signature = value.rsplit(".", 1)
        if not hmac.compare_digest(self._sign(body), signature):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            if data["e"] < time.time():
                return None
            return Principal(data["n"], Role(data["r"]), via="session:" + str(data["c"]))
        except (ValueError, KeyError, TypeError):
            return None

    async def principal(self, request: Request) -> Principal | None:
        """Who sent ``request``: a bearer token, then the session cookie, then the callback."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return self.login(header[7:].strip())
        found = self.from_cookie(request.cookies.get(SESSION_COOKIE))
        if found is not None:
            return found
        if self.authenticate is not None:
            result = self.authenticate(request)
            if inspect.isawaitable(result):
                result = await result
            if result is None:
                return None
            if not isinstance(result, Principal):
                raise ConfigurationError(
                    "authenticate= must return a conveyor.web.Principal or None, got "
                    f"{type(result).__name__}"
                )
            return replace(result, via="callback")
        return None

    def csrf_token(self, principal: Principal) -> str | None:
        """The token a browser must echo on state-changing requests; None for bearer tokens.

        A session's token lives in its cookie; a callback principal (authenticated by the
        host app, likely by a cookie too) gets one derived from its name and the secret.
        """
        if principal.via.startswith("session:"):
            return principal.via.removeprefix("session:")
        if principal.via == "callback":
            return hmac.new(self.secret, f"csrf:{principal.name}".encode(), "sha256").hexdigest()
        return None

    def csrf_ok(self, principal: Principal, submitted: str | None) -> bool:
        """True when a state-changing request from ``principal`` may proceed."""
        expected = self.csrf_token(principal)
        if expected is None:
            return True  # a bearer header: no browser adds one on its own
        return bool(submitted) and hmac.compare_digest(expected, submitted or "")
