"""Sinks against real loopback servers: an HTTP receiver and an aiosmtpd SMTP server."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conveyor.errors import ConfigurationError
from conveyor.monitor.notice import Notice, NoticeKind
from conveyor.monitor.signing import verify
from conveyor.monitor.sinks import EmailSink, LogSink, SinkError, WebhookSink
from conveyor.testing import eventually

from .receivers import running_drip_receiver

LOOPBACK = "127.0.0.1"
ALLOW = [LOOPBACK]  # the receivers are internal: allowed explicitly
SECRET = "webhook-secret"


def make_notice(kind: NoticeKind = NoticeKind.FIRING, **changes: Any) -> Notice:
    fields: dict[str, Any] = {
        "incident_id": 42,
        "kind": kind,
        "rule": "missed_run",
        "subject": "nightly_report",
        "summary": "nightly_report: the 03:00 Europe/Berlin run did not succeed by 03:30",
        "details": {"slot": "2024-05-01T01:00:00+00:00", "grace_seconds": 1800},
        "opened_at": 1_714_528_800.0,
        "at": 1_714_532_400.0,
        "resolved_at": 1_714_536_000.0 if kind is NoticeKind.RESOLVED else None,
    }
    fields.update(changes)
    return Notice(**fields)


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


# -- an HTTP receiver ----------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes


@dataclass
class Receiver:
    """A loopback HTTP server recording POSTs; the path picks the answer.

    ``/ok...`` answers 204, ``/fail`` 500 with a long body, ``/moved`` a 302, ``/slow`` holds
    the request until the test ends (released at teardown so the server shuts down cleanly).
    """

    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://{LOOPBACK}:{self.server.server_port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            recv = holder[0]
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            recv.requests.append(Received(self.path, self.headers, body))
            if self.path == "/slow":
                recv.release.wait(30)
                return
            if self.path == "/fail":
                self._answer(500, b"database is down " + b"x" * 500)
            elif self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/ok")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._answer(204, b"")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    recv = Receiver(server)
    holder.append(recv)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield recv
    finally:
        recv.release.set()
        server.shutdown()
        server.server_close()  # joins handler threads
        thread.join()


def test_webhook_posts_the_notice_as_json(receiver: Receiver) -> None:
    notice = make_notice()
    WebhookSink(receiver.url("/ok/hook"), allow=ALLOW).send(notice)

    [request] = receiver.requests
    assert request.path == "/ok/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("conveyor/")
    assert "Conveyor-Signature" not in request.headers
    body = json.loads(request.body)
    assert body["incident_id"] == 42
    assert body["kind"] == "firing"
    assert body["rule"] == "missed_run"
    assert body["subject"] == "nightly_report"
    assert body["title"] == "[conveyor] FIRING missed_run nightly_report"
    assert body["summary"] == notice.summary
    assert body["details"] == {"slot": "2024-05-01T01:00:00+00:00", "grace_seconds": 1800}
    assert body["opened_at"] == notice.opened_at
    assert body["opened_at_iso"] == "2024-05-01T02:00:00+00:00"
    assert body["resolved_at"] is None
    assert body["open_seconds"] == 3600.0


def test_webhook_signature_verifies_over_the_exact_body(receiver: Receiver) -> None:
    sink = WebhookSink(receiver.url("/ok"), allow=ALLOW, secret=SECRET)
    sink.send(make_notice(NoticeKind.RESOLVED))

    [request] = receiver.requests
    header = request.headers["Conveyor-Signature"]
    assert verify(SECRET, header, request.body, now=time.time())
    assert not verify("wrong", header, request.body, now=time.time())
    assert json.loads(request.body)["kind"] == "resolved"


def test_webhook_slack_body_is_text(receiver: Receiver) -> None:
    notice = make_notice(NoticeKind.REMINDER)
    WebhookSink(receiver.url("/ok"), allow=ALLOW, slack=True).send(notice)

    [request] = receiver.requests
    body = json.loads(request.body)
    assert list(body) == ["text"]
    assert body["text"].startswith("[conveyor] REMINDER missed_run nightly_report\n")
    assert notice.summary in body["text"]


def test_webhook_sends_custom_headers(receiver: Receiver) -> None:
    sink = WebhookSink(
        receiver.url("/ok"), headers={"Authorization": "Bearer t0ken", "X-A": "1"}, allow=ALLOW
    )
    sink.send(make_notice())

    [request] = receiver.requests
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert request.headers["X-A"] == "1"
    assert request.headers["Content-Type"] == "application/json"


def test_webhook_error_status_raises_with_status_and_start_of_body(receiver: Receiver) -> None:
    sink = WebhookSink(receiver.url("/fail"), allow=ALLOW)
    with pytest.raises(SinkError) as caught:
        sink.send(make_notice())
    message = str(caught.value)
    assert "HTTP 500" in message
    assert "database is down" in message
    assert "x" * 300 not in message  # only the start of the body is quoted
    assert sink.name in message


def test_webhook_does_not_follow_redirects(receiver: Receiver) -> None:
    with pytest.raises(SinkError, match="HTTP 302"):
        WebhookSink(receiver.url("/moved"), allow=ALLOW).send(make_notice())
    assert [r.path for r in receiver.requests] == ["/moved"]


def test_webhook_closed_port_raises() -> None:
    sink = WebhookSink(f"http://{LOOPBACK}:{closed_port()}/hook", timeout=2, allow=ALLOW)
    with pytest.raises(SinkError, match="could not connect"):
        sink.send(make_notice())


def test_webhook_slow_receiver_times_out(receiver: Receiver) -> None:
    sink = WebhookSink(receiver.url("/slow"), allow=ALLOW, timeout=0.5)
    with pytest.raises(SinkError, match=r"no answer within 0\.5s"):
        sink.send(make_notice())


def test_webhook_to_a_literal_internal_address_is_refused_unless_allowed() -> None:
    for url in (f"http://{LOOPBACK}:9/hook", "http://169.254.169.254/latest", "http://0.0.0.0/",
                "http://2130706433/", "http://[::ffff:10.0.0.1]/"):
        with pytest.raises(ConfigurationError, match="allow") as caught:
            WebhookSink(url)
        assert "webhooks go only to public addresses" in str(caught.value)
    WebhookSink(f"http://{LOOPBACK}:9/hook", allow=ALLOW)  # allowed: accepted


def test_webhook_to_a_name_resolving_to_loopback_is_refused_when_sending(
    receiver: Receiver,
) -> None:
    url = receiver.url("/ok").replace(LOOPBACK, "localhost")
    with pytest.raises(SinkError) as caught:
        WebhookSink(url).send(make_notice())
    message = str(caught.value)
    assert "refused to send to localhost: it resolves to 127.0.0.1, a loopback address" in message
    assert "allow=" in message and "CONVEYOR_WEBHOOK_ALLOW" in message
    assert receiver.requests == []  # nothing reached the receiver

    WebhookSink(url, allow=["localhost"]).send(make_notice())  # allowed by name
    WebhookSink(url, allow=["127.0.0.0/8"]).send(make_notice())  # allowed by network
    assert [r.path for r in receiver.requests] == ["/ok", "/ok"]
    assert receiver.requests[0].headers["Host"] == f"localhost:{receiver.server.server_port}"


def test_webhook_deadline_bounds_a_receiver_that_drips_its_answer() -> None:
    with running_drip_receiver(interval=0.5) as drip:
        sink = WebhookSink(drip.url(), allow=ALLOW, timeout=1.5)
        with pytest.raises(SinkError, match=r"no answer within 1\.5s \(the deadline of the whole"):
            sink.send(make_notice())
        # The POST hung up while the answer was still dripping.
        eventually(lambda: drip.drips and drip.drips[0].hung_up, timeout=10)


def test_webhook_name_hides_query_credentials_and_secret() -> None:
    sink = WebhookSink("https://hooks.example.com:8443/a/b?token=abc", secret="zzz")
    assert sink.name == "webhook:https://hooks.example.com:8443/a/b"
    assert "zzz" not in repr(sink)
    assert "abc" not in repr(sink)
    # Credentials in the URL are refused outright, without repeating them.
    with pytest.raises(ConfigurationError, match="credentials") as caught:
        WebhookSink("https://user:pw@hooks.example.com:8443/a/b?token=abc", secret="zzz")
    assert "pw" not in str(caught.value) and "Authorization" in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "example.com/hook", "http:///nohost", ""])
def test_webhook_url_must_be_http_or_https(url: str) -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        WebhookSink(url)


def test_webhook_rejects_bad_headers_and_timeout() -> None:
    with pytest.raises(ConfigurationError, match="header"):
        WebhookSink("https://example.com/h", headers={"X-Bad": "a\r\nInjected: 1"})
    with pytest.raises(ConfigurationError, match="timeout"):
        WebhookSink("https://example.com/h", timeout=0)


# -- an SMTP server ------------------------------------------------------------------------


@dataclass
class Mailbox:
    """Collects what the aiosmtpd server accepted."""

    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse_rcpt: str | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address == self.refuse_rcpt:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int


def _accept_ops_login(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"ops"
    ok = ok and auth_data.password == b"right"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    port = closed_port()
    # hostname: bind to loopback only (the default would make aiosmtpd probe for IPv6 and
    # listen on every interface). auth_require_tls=False lets the login test run without
    # certificates; with auth_required left False, aiosmtpd does not warn about it.
    controller = Controller(
        mailbox,
        hostname=LOOPBACK,
        port=port,
        server_hostname="mail.test",
        authenticator=_accept_ops_login,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield SmtpServer(mailbox, port)
    finally:
        controller.stop()


def test_email_sends_subject_body_and_recipients(smtp_server: SmtpServer) -> None:
    sink = EmailSink(
        LOOPBACK,
        smtp_server.port,
        sender="conveyor@example.com",
        to=["ops@example.com", "oncall@example.com"],
        timeout=5,
    )
    notice = make_notice()
    sink.send(notice)

    [(mail_from, rcpt_tos, content)] = smtp_server.mailbox.envelopes
    assert mail_from == "conveyor@example.com"
    assert rcpt_tos == ["ops@example.com", "oncall@example.com"]
    message = message_from_bytes(content)
    assert message["Subject"] == "[conveyor] FIRING missed_run nightly_report"
    assert message["To"] == "ops@example.com, oncall@example.com"
    assert message["X-Conveyor-Incident"] == "42"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode()
    assert notice.summary in text
    assert "opened: 2024-05-01T02:00:00+00:00" in text
    assert "open for: 1h" in text
    assert "grace_seconds: 1800" in text


def test_email_logs_in_when_given_credentials(smtp_server: SmtpServer) -> None:
    sink = EmailSink(
        LOOPBACK,
        smtp_server.port,
        sender="conveyor@example.com",
        to="ops@example.com",
        username="ops",
        password="right",
        timeout=5,
    )
    sink.send(make_notice(NoticeKind.RESOLVED))
    [(_, _, content)] = smtp_server.mailbox.envelopes
    assert message_from_bytes(content)["Subject"].startswith("[conveyor] RESOLVED")


def test_email_wrong_password_raises_with_server_reply(smtp_server: SmtpServer) -> None:
    sink = EmailSink(
        LOOPBACK,
        smtp_server.port,
        sender="conveyor@example.com",
        to="ops@example.com",
        username="ops",
        password="wrong",
        timeout=5,
    )
    with pytest.raises(SinkError, match=r"refused the login: 535 .*check username/password"):
        sink.send(make_notice())
    assert smtp_server.mailbox.envelopes == []


def test_email_refused_recipient_raises_with_reason(smtp_server: SmtpServer) -> None:
    smtp_server.mailbox.refuse_rcpt = "ghost@example.com"
    sink = EmailSink(
        LOOPBACK, smtp_server.port, sender="c@example.com", to="ghost@example.com", timeout=5
    )
    with pytest.raises(SinkError, match=re.escape("ghost@example.com: 550 5.1.1 no such mailbox")):
        sink.send(make_notice())


def test_email_closed_port_raises() -> None:
    port = closed_port()
    sink = EmailSink(LOOPBACK, port, sender="c@example.com", to="ops@example.com", timeout=2)
    with pytest.raises(SinkError, match=re.escape(f"{LOOPBACK}:{port}")) as caught:
        sink.send(make_notice())
    assert "email:ops@example.com" in str(caught.value)


def test_email_validates_its_arguments() -> None:
    with pytest.raises(ConfigurationError, match="recipient"):
        EmailSink(LOOPBACK, sender="c@example.com", to=[])
    with pytest.raises(ConfigurationError, match="not both"):
        EmailSink(LOOPBACK, sender="c@example.com", to="o@example.com", ssl=True, starttls=True)
    with pytest.raises(ConfigurationError, match="username and password"):
        EmailSink(LOOPBACK, sender="c@example.com", to="o@example.com", username="u")
    with pytest.raises(ConfigurationError, match="one address"):
        EmailSink(LOOPBACK, sender="c@example.com", to="a@example.com, b@example.com")


# -- log -----------------------------------------------------------------------------------


def test_log_sink_levels(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="conveyor.alerts")
    sink = LogSink()
    sink.send(make_notice(NoticeKind.FIRING))
    sink.send(make_notice(NoticeKind.REMINDER))
    sink.send(make_notice(NoticeKind.RESOLVED))

    records = [r for r in caplog.records if r.name == "conveyor.alerts"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING, logging.INFO]
    assert records[0].getMessage().startswith("[conveyor] FIRING missed_run nightly_report: ")
    assert "did not succeed by 03:30" in records[0].getMessage()
    assert records[2].__dict__["conveyor_notice"]["kind"] == "resolved"
    assert sink.name == "log"
