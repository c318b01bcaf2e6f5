"""Who is asking: tokens, server-side sessions, an optional callback, roles and CSRF.

Authentication is on by default, even on loopback: every route but the login page and static
files needs a principal. API clients send ``Authorization: Bearer <token>``; a browser logs in
once with its token (``/login?token=...``) and then carries a session cookie signed with the
dashboard's secret. An app that mounts the dashboard can instead pass ``authenticate=``, a
function of the request that returns a :class:`Principal` (or None), to reuse its own login.

A session is a row in the store as well as a cookie, so a logout ends it in every dashboard
process at once. The row remembers a digest of the token that logged in and its role then;
the session counts only while the dashboard's tokens still give that token that role, so
removing or downgrading a token ends its sessions. The cookie's own fields are never trusted
for the role.

State-changing requests from a browser session must carry the session's CSRF token (a hidden
form field or an ``X-CSRF-Token`` header); requests with a bearer token need none, because a
browser never adds that header on its own. Failed logins and wrong bearer tokens are limited
per client (:mod:`conveyor.web.throttle`).
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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from conveyor.errors import ConfigurationError
from conveyor.store.web_types import NewSession
from conveyor.web.proxy import TrustedProxies
from conveyor.web.throttle import AttemptLimiter

if TYPE_CHECKING:
    from conveyor.store.contract.dashboard import DashboardVerbs

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


def credential_of(token: str) -> str:
    """What a session remembers of the token that logged in: a digest, never the token."""
    return hashlib.sha256(b"conveyor-dashboard-token:" + token.encode()).hexdigest()


def _digest(session_id: str) -> str:
    """The store's key for a session: reading the table gives no usable cookie."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def random_token() -> str:
    """A fresh, unguessable token (as ``conveyor dashboard`` prints in its login URL)."""
    return secrets.token_urlsafe(24)


@dataclass
class AuthConfig:
    """The dashboard's credentials: tokens by value, an optional callback, the cookie secret."""

    tokens: Mapping[str, Principal] = field(default_factory=dict)
    authenticate: Authenticate | None = None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    store: Callable[[], DashboardVerbs] | None = None
    """Where sessions live (the app's store); without one, browsers cannot log in."""
    limiter: AttemptLimiter = field(default_factory=AttemptLimiter)
    proxies: TrustedProxies = field(default_factory=TrustedProxies)
    secure_cookies: bool | None = None
    """True: always mark the cookie ``Secure``; False: never; None: when the request is
    HTTPS (directly or as a trusted proxy says)."""
    _by_credential: dict[str, Principal] = field(init=False, repr=False)

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
        self._by_credential = {credential_of(t): p for t, p in self.tokens.items()}

    @classmethod
    def build(
        cls,
        tokens: Mapping[str, str | Role] | None,
        authenticate: Authenticate | None,
        secret: str | bytes | None,
        *,
        store: Callable[[], DashboardVerbs] | None = None,
        limiter: AttemptLimiter | None = None,
        trusted_proxies: Iterable[str] = (),
        secure_cookies: bool | None = None,
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
        return cls(
            principals,
            authenticate,
            key or secrets.token_bytes(32),
            store,
            limiter or AttemptLimiter(),
            TrustedProxies(trusted_proxies),
            secure_cookies,
        )

    # -- sessions ------------------------------------------------------------------------------

    def login(self, token: str) -> Principal | None:
        """The principal a token stands for (compared in constant time), or None."""
        for known, principal in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return principal
        return None

    def check_token(self, request: Request, token: str) -> Principal | None:
        """The principal of ``token`` presented by ``request``'s client, counting a wrong one
        against the client; raises :class:`~conveyor.web.throttle.TooManyAttempts` while the
        client has failed too often."""
        client = self.proxies.client(request)
        self.limiter.check(client)
        principal = self.login(token)
        if principal is None:
            self.limiter.failed(client)
        return principal

    def cookie_secure(self, request: Request) -> bool:
        """Whether the session cookie gets the ``Secure`` attribute for this request."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.proxies.is_https(request)

    def _sessions(self) -> DashboardVerbs:
        if self.store is None:
            raise ConfigurationError(
                "browser sessions need a store: build the dashboard with create_app(app, ...)"
            )
        return self.store()

    async def open_session(self, principal: Principal, token: str) -> str:
        """Record a new session for ``token``'s principal; the signed cookie value for it.

        The cookie carries a random session id (the store keeps only its digest), the
        session's CSRF token and an expiry; name and role ride along for display only.
        """
        session_id = secrets.token_urlsafe(32)
        await run_in_threadpool(
            self._sessions().put_session,
            _digest(session_id),
            NewSession(credential_of(token), principal.role.value, SESSION_SECONDS),
        )
        payload = json.dumps(
            {
                "n": principal.name,
                "r": principal.role.value,
                "c": secrets.token_urlsafe(16),
                "e": int(time.time() + SESSION_SECONDS),
                "s": session_id,
            },
            separators=(",", ":"),
        ).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()

    def _cookie_fields(self, value: str | None) -> dict[str, object] | None:
        """The fields of a cookie this dashboard signed and that has not expired."""
        if not value or "." not in value:
            return None
        body, signature = value.rsplit(".", 1)
        if not hmac.compare_digest(self._sign(body), signature):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            if not isinstance(data, dict) or float(data["e"]) < time.time():
                return None
            return data
        except (ValueError, KeyError, TypeError):
            return None

    async def from_cookie(self, value: str | None) -> Principal | None:
        """The principal of a live session cookie, or None.

        Live means: signed by this dashboard, unexpired, its session still in the store (not
        logged out), and its token still configured with the role it logged in with.
        """
        data = self._cookie_fields(value)
        if data is None or not isinstance(data.get("s"), str):
            return None
        row = await run_in_threadpool(self._sessions().get_session, _digest(str(data["s"])))
        if row is None:
            return None
        principal = self._by_credential.get(row.credential)
        if principal is None or principal.role.value != row.role:
            return None  # the token was removed, or its role changed, since the login
        return replace(principal, via="session:" + str(data["c"]))

    async def close_session(self, value: str | None) -> None:
        """End the cookie's session for every dashboard process (a logout)."""
        data = self._cookie_fields(value)
        if data is not None and isinstance(data.get("s"), str):
            await run_in_threadpool(self._sessions().put_session, _digest(str(data["s"])), None)

    async def principal(self, request: Request) -> Principal | None:
        """Who sent ``request``: a bearer token, then the session cookie, then the callback."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return self.check_token(request, header[7:].strip())
        found = await self.from_cookie(request.cookies.get(SESSION_COOKIE))
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
