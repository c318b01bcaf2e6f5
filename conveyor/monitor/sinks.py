"""Sinks deliver notices: to the log, to a webhook (optionally signed, optionally Slack), by email.

A sink makes exactly one attempt per :meth:`Sink.send` call and raises :class:`SinkError` when it
fails. Retrying is not its job: the monitor keeps failed deliveries in its outbox and retries them
with backoff, so a sink must never loop or sleep on its own.
"""

from __future__ import annotations

import email.utils
import json
import logging
import smtplib
import ssl as ssl_module
from collections.abc import Iterable, Mapping, Sequence
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import urlsplit

from conveyor._destinations import ALLOW_ENV, CREDENTIALS, AllowList, url_problem
from conveyor._durations import to_seconds
from conveyor._outbound import Failure, PostFailed, post_json
from conveyor.errors import ConfigurationError, ConveyorError
from conveyor.monitor.notice import Notice, NoticeKind

__all__ = ["EmailSink", "LogSink", "Sink", "SinkError", "WebhookSink"]

alerts_logger = logging.getLogger("conveyor.alerts")


class SinkError(ConveyorError):
    """A sink could not deliver a notice; the message says what failed and what to check.

    ``sink`` is the sink's :attr:`Sink.name`. The delivery may be retried later.
    """

    def __init__(self, sink: str, problem: str) -> None:
        self.sink = sink
        self.problem = problem
        super().__init__(f"alert sink {sink}: {problem}")


class Sink(Protocol):
    """Something that delivers a :class:`Notice` somewhere."""

    name: str
    """Shown in alert listings and logs, e.g. ``"log"``, ``"webhook:https://host/path"`` or
    ``"email:ops@example.com"``. Never contains a secret."""

    def send(self, notice: Notice) -> None:
        """Deliver ``notice`` in one attempt, within the sink's timeout.

        Raises :class:`SinkError` when delivery failed.
        """
        ...


def _positive_timeout(timeout: float, what: str) -> float:
    seconds = to_seconds(timeout, what=what)
    if seconds <= 0:
        raise ConfigurationError(f"{what} must be more than zero seconds, got {timeout!r}")
    return seconds


# -- log -----------------------------------------------------------------------------------


class LogSink:
    """Writes notices to the ``conveyor.alerts`` logger.

    Firing and reminder notices log at WARNING, resolved ones at INFO. The record carries the
    notice's JSON form as ``record.conveyor_notice`` for structured log handlers.
    """

    name = "log"

    def send(self, notice: Notice) -> None:
        """Log ``notice``; never raises :class:`SinkError`."""
        level = logging.INFO if notice.kind is NoticeKind.RESOLVED else logging.WARNING
        alerts_logger.log(
            level,
            "%s: %s",
            notice.title(),
            notice.summary,
            extra={"conveyor_notice": notice.to_json()},
        )

    def __repr__(self) -> str:
        return "LogSink()"


# -- webhook -------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """``text`` with ``&``, ``<`` and ``>`` escaped as Slack's message formatting asks, so a
    job name or error message shows as typed and cannot mention ``<!channel>`` or make a
    link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_text(notice: Notice) -> str:
    lines = [notice.title(), notice.summary]
    lines.extend(f"{key}: {value}" for key, value in notice.details.items())
    return slack_escape("\n".join(lines))


def _check_header(key: str, value: str) -> None:
    # http.client would only refuse these at send time; a config mistake should fail at startup.
    if not key or any(ch in key for ch in "\r\n:") or any(ch in value for ch in "\r\n"):
        raise ConfigurationError(
            f"webhook header {key!r} is not a valid HTTP header (names must be non-empty "
            "without ':'; names and values must not contain line breaks)"
        )


class WebhookSink:
    """POSTs each notice as JSON to ``url``.

    With ``secret`` the request carries a ``Conveyor-Signature`` header (see
    :mod:`conveyor.monitor.signing`) that receivers should verify. With ``slack=True`` the body
    is ``{"text": ...}``, which Slack (and Mattermost, Rocket.Chat...) incoming webhooks accept;
    otherwise it is :meth:`Notice.to_json`. ``headers`` are added to every request (e.g. an
    ``Authorization`` token); they and the secret never appear in :attr:`name` or errors.

    Any answer outside 2xx (redirects included), connection error or timeout raises
    :class:`SinkError`. ``timeout`` is the deadline of each whole POST (resolving, connecting,
    sending and reading the answer).

    The receiver must be on a public address, checked on every address its host resolves to
    when sending; ``allow`` lists internal receivers to reach anyway: networks such as
    ``"10.0.0.0/8"`` or exact host names such as ``"hooks.internal"`` (default: the
    ``CONVEYOR_WEBHOOK_ALLOW`` environment variable, comma-separated). See docs/alerts.md.

    Raises :class:`ConfigurationError` for a URL that is not http(s), holds credentials or is a
    literal address not allowed, or for a bad header, timeout or allow entry.
    """

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        slack: bool = False,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        allow: Iterable[str] | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"webhook URL {url!r} must be an absolute http:// or https:// URL, "
                "e.g. 'https://hooks.example.com/conveyor'"
            )
        try:
            parts.port  # noqa: B018 - reading it validates the port
        except ValueError as exc:
            raise ConfigurationError(f"webhook URL {url!r} has an invalid port: {exc}") from None
        self.allow = AllowList.parse(allow, what="WebhookSink allow")
        problem = url_problem(url, self.allow)
        if problem is not None:
            host = parts.netloc.rpartition("@")[2]
            raise ConfigurationError(
                f"webhook URL {parts.scheme}://{host}{parts.path} {problem}; "
                f"{_allow_advice(problem)}"
            )
        if secret is not None and not secret:
            raise ConfigurationError("webhook secret must not be empty; pass None to not sign")
        for key, value in (headers or {}).items():
            _check_header(key, value)
        self.url = url
        self.secret = secret
        self.slack = slack
        self.timeout = _positive_timeout(timeout, "webhook timeout")
        self.headers = dict(headers or {})
        # Only scheme, host and path: the query string or user info may hold tokens.
        host = parts.netloc.rpartition("@")[2]
        self.name = f"webhook:{parts.scheme}://{host}{parts.path}"

    def __repr__(self) -> str:
        return f"WebhookSink({self.name!r}, signed={self.secret is not None}, slack={self.slack})"

    def body(self, notice: Notice) -> bytes:
        """The exact bytes POSTed for ``notice``."""
        payload = {"text": _slack_text(notice)} if self.slack else notice.to_json()
        # default=str: a stray non-JSON detail (a datetime, say) must not stop an alert.
        return json.dumps(payload, default=str, ensure_ascii=False).encode()

    def send(self, notice: Notice) -> None:
        """POST ``notice`` once; raises :class:`SinkError` unless the receiver answers 2xx."""
        body = self.body(notice)
        try:
            post_json(
                self.url,
                body,
                secret=self.secret,
                timeout=self.timeout,
                allow=self.allow,
                headers=self.headers,
            )
        except PostFailed as exc:
            raise SinkError(self.name, f"{exc.problem}; {self._advice(exc)}") from exc

    def _advice(self, exc: PostFailed) -> str:
        if exc.failure is Failure.STATUS:
            if exc.status is not None and 300 <= exc.status < 400:
                return "a redirect is not followed; point the URL at the final address"
            return "check the URL, the receiver's credentials/headers and its logs"
        if exc.failure is Failure.TIMEOUT:
            return "check the receiver is up and fast, or raise the sink's timeout"
        if exc.failure is Failure.REFUSED:
            return (
                f"for an internal receiver, allow it: WebhookSink(..., allow=['10.0.0.0/8' or "
                f"the host name]) or {ALLOW_ENV}"
            )
        if exc.failure is Failure.CONNECT:
            return (
                "check the URL, that the receiver is running and reachable from here (DNS, "
                "firewall, proxy settings)"
            )
        return "check the receiver's logs"


def _allow_advice(problem: str) -> str:
    if problem.startswith(CREDENTIALS):
        return "pass them as headers={'Authorization': ...} instead"
    return f"for an internal receiver, allow it with allow=[...] or {ALLOW_ENV}"


# -- email ---------------------------------------------------------------------------------


class EmailSink:
    """Emails each notice via SMTP: Subject is :meth:`Notice.title`, body is :meth:`Notice.text`.

    ``ssl=True`` connects with implicit TLS (usually port 465); ``starttls=True`` upgrades a
    plain connection (usually port 587); both verify the server certificate. ``username`` and
    ``password`` log in, and need TLS unless the server allows plain-text login.
    ``timeout`` bounds connecting and each exchange with the server.

    Raises :class:`ConfigurationError` for no recipients, both ``ssl`` and ``starttls``, or
    a username without a password; :class:`SinkError` from :meth:`send` on any SMTP or
    network failure.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        to: Sequence[str] | str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        ssl: bool = False,
        timeout: float = 10.0,
    ) -> None:
        recipients = [to] if isinstance(to, str) else list(to)
        if not host:
            raise ConfigurationError("email sink needs an SMTP host, e.g. 'smtp.example.com'")
        if not 0 < port < 65536:
            raise ConfigurationError(f"email sink port must be 1-65535, got {port!r}")
        if not sender or "@" not in sender:
            raise ConfigurationError(f"email sender {sender!r} must be an address like a@b.com")
        if not recipients:
            raise ConfigurationError("email sink needs at least one recipient in to=")
        for address in recipients:
            if "@" not in address or any(ch in address for ch in "\r\n,"):
                raise ConfigurationError(
                    f"email recipient {address!r} must be one address like ops@example.com "
                    "(pass several as a list)"
                )
        if starttls and ssl:
            raise ConfigurationError(
                "email sink: choose ssl=True (implicit TLS, port 465) or starttls=True "
                "(upgrade, port 587), not both"
            )
        if (username is None) != (password is None):
            raise ConfigurationError("email sink: give both username and password, or neither")
        self.host = host
        self.port = port
        self.sender = sender
        self.to = tuple(recipients)
        self.username = username
        self.password = password
        self.starttls = starttls
        self.ssl = ssl
        self.timeout = _positive_timeout(timeout, "email timeout")
        self.name = f"email:{','.join(self.to)}"

    def __repr__(self) -> str:
        return f"EmailSink({self.name!r}, via={self.host}:{self.port})"

    def message(self, notice: Notice) -> EmailMessage:
        """The email sent for ``notice``."""
        message = EmailMessage()
        # A line break in a header would be refused by the email package (header injection).
        message["Subject"] = " ".join(notice.title().split())
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message["Date"] = email.utils.formatdate(notice.at, usegmt=True)
        domain = self.sender.rpartition("@")[2]
        # Passing the domain avoids make_msgid's reverse-DNS lookup of this host.
        message["Message-ID"] = email.utils.make_msgid("conveyor", domain=domain)
        # One shared reference per incident lets mail clients thread firing/reminder/resolved.
        message["References"] = f"<conveyor-incident-{notice.incident_id}@{domain}>"
        message["X-Conveyor-Incident"] = str(notice.incident_id)
        message["X-Conveyor-Kind"] = notice.kind.value
        message.set_content(notice.text())
        return message

    def send(self, notice: Notice) -> None:
        """Send ``notice`` once; raises :class:`SinkError` on any SMTP or network failure."""
        message = self.message(notice)
        where = f"{self.host}:{self.port}"
        try:
            with self._connect() as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl_module.create_default_context())
                if self.username is not None and self.password is not None:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(message, self.sender, list(self.to))
        except smtplib.SMTPAuthenticationError as exc:
            raise SinkError(
                self.name, f"{where} refused the login: {_reply(exc)}; check username/password"
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            reasons = "; ".join(
                f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items()
            )
            raise SinkError(self.name, f"{where} refused every recipient ({reasons})") from exc
        except smtplib.SMTPResponseException as exc:
            raise SinkError(
                self.name, f"{where} replied {_reply(exc)}; check the sender and server policy"
            ) from exc
        except smtplib.SMTPException as exc:
            raise SinkError(
                self.name,
                f"SMTP exchange with {where} failed ({type(exc).__name__}: {exc}); check the "
                "server supports the chosen ssl/starttls mode",
            ) from exc
        except TimeoutError as exc:
            raise SinkError(
                self.name,
                f"no reply from {where} within {self.timeout:g}s; check host and port, "
                "or raise the sink's timeout",
            ) from exc
        except OSError as exc:
            raise SinkError(
                self.name,
                f"could not talk to SMTP server {where} ({exc}); check host and port, and "
                "whether it expects ssl=True (465) or starttls=True (587)",
            ) from exc
        if refused:
            # Some recipients got it; failing would make the outbox resend to them too.
            alerts_logger.warning(
                "alert sink %s: %s refused some recipients: %s", self.name, where, refused
            )

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=self.timeout,
                context=ssl_module.create_default_context(),
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"
