"""``conveyor dashboard myapp:app``: serve the web dashboard and the HTTP API with uvicorn.

Authentication is on even on loopback: without ``--token`` (or CONVEYOR_DASHBOARD_TOKEN) a
random admin token is made, and the login URL carrying it is printed, as Jupyter does.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import signal
import socket
import sys
from types import FrameType

import click

from conveyor._loading import load_app
from conveyor.cli.options import APP_ENV, URL_ENV
from conveyor.errors import ConfigurationError

TOKEN_ENV = "CONVEYOR_DASHBOARD_TOKEN"
READ_TOKEN_ENV = "CONVEYOR_DASHBOARD_READ_TOKEN"
PROXIES_ENV = "CONVEYOR_DASHBOARD_TRUSTED_PROXIES"
MIN_TOKEN_CHARS = 32
"""Shortest --token / --read-token: as long as random_token()'s, which no guessing reaches."""
WEB_MODULES = ("starlette", "uvicorn", "jinja2", "multipart")
"""What the ``web`` extra installs (python-multipart imports as ``multipart``)."""


def check_web_extra() -> None:
    """Raise a :class:`ConfigurationError` naming the install command when a web dependency
    is missing."""
    missing = [name for name in WEB_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigurationError(
            f"the dashboard needs the web extra, which is not installed (missing: "
            f"{', '.join(missing)}); install it with: pip install 'conveyor[web]'"
        )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0 picks a free one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigurationError(f"--host {host!r} cannot be resolved ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def login_url(sock: socket.socket, token: str) -> str:
    """The URL that logs a browser in with ``token``."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/login?token={token}"


@click.command(short_help="Serve the web dashboard and HTTP API for an app.")
@click.argument("app_arg", metavar="[APP]", required=False)
@click.option("--app", "app_option", envvar=APP_ENV, metavar="MODULE:ATTR",
              help=f"Your app, if not given as APP [env {APP_ENV}].")
@click.option("--url", envvar=URL_ENV, metavar="URL",
              help=f"Store URL [env {URL_ENV}; default: the app's URL].")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs --allow-remote.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 picks a free one).")
@click.option("--token", envvar=TOKEN_ENV, metavar="TOKEN",
              help=f"Admin token, at least {MIN_TOKEN_CHARS} characters [env {TOKEN_ENV}; "
              "default: a random one, printed in the login URL].")
@click.option("--read-token", envvar=READ_TOKEN_ENV, metavar="TOKEN",
              help=f"A token that may only look, not act [env {READ_TOKEN_ENV}].")
@click.option("--allow-remote", is_flag=True,
              help="Listen on a non-loopback --host (put TLS in front: tokens and session "
              "cookies would otherwise cross the network in clear text).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, envvar=PROXIES_ENV,
              metavar="ADDRESS",
              help="A reverse proxy (IP or network) whose X-Forwarded-For and "
              "X-Forwarded-Proto headers are believed; repeat for several [env "
              f"{PROXIES_ENV}, space-separated; default: none].")
@click.option("--secure-cookies", is_flag=True,
              help="Always mark the session cookie Secure (by default it is when the "
              "connection is HTTPS, or a trusted proxy says it was).")
def dashboard(app_arg: str | None, app_option: str | None, url: str | None, host: str,
              port: int, token: str | None, read_token: str | None,
              allow_remote: bool, trusted_proxies: tuple[str, ...],
              secure_cookies: bool) -> None:
    """Serve the dashboard and JSON API for APP (e.g. `conveyor dashboard myapp:app`).

    Prints a login URL with the admin token; open it in a browser. API clients send
    `Authorization: Bearer <token>`. Stops on Ctrl-C or SIGTERM.
    """
    spec = app_arg or app_option
    if not spec:
        raise ConfigurationError(
            "which app should the dashboard show? pass it as `conveyor dashboard myapp:app`, "
            f"with --app myapp:app, or set {APP_ENV}=myapp:app"
        )
    if not is_loopback(host) and not allow_remote:
        raise ConfigurationError(
            f"--host {host} would serve the dashboard beyond this machine, over plain HTTP: "
            "the token in the login URL and the session cookie could be read on the way. "
            "Serve it on loopback (the default) behind a TLS reverse proxy, or pass "
            "--allow-remote if the network is trusted"
        )
    check_token_length(token, "--token")
    check_token_length(read_token, "--read-token")
    check_web_extra()
    import uvicorn

    from conveyor.web import create_app, random_token

    if url:
        os.environ[URL_ENV] = url  # apps built with Conveyor() read it when imported
    app = load_app(spec)
    if url:
        app.url = url
    admin = token or random_token()
    tokens = {admin: "admin"}
    if read_token:
        if read_token == admin:
            raise ConfigurationError("--read-token must differ from the admin --token")
        tokens[read_token] = "read"
    web = create_app(
        app,
        tokens=tokens,
        trusted_proxies=trusted_proxies,
        secure_cookies=True if secure_cookies else None,
    )
    sock = bind(host, port)
    click.echo(f"Dashboard: {login_url(sock, admin)}")
    click.echo("API: send the header `Authorization: Bearer <token>`; Ctrl-C stops the server")
    sys.stdout.flush()
    # No access log: the login URL's query string holds the token. No proxy headers from
    # uvicorn either (it would trust 127.0.0.1 by default): --trusted-proxy decides alone.
    server = uvicorn.Server(
        uvicorn.Config(
            web, log_level="warning", access_log=False, lifespan="off", proxy_headers=False
        )
    )
    # uvicorn catches SIGINT/SIGTERM, shuts down gracefully, then raises the signal again
    # for the handler it found installed: make that one a no-op so the command ends normally.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _stopped)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        app.close()
    click.echo("dashboard stopped")


def check_token_length(token: str | None, option: str) -> None:
    """Refuse a token a guesser could reach: shorter than :data:`MIN_TOKEN_CHARS`."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ConfigurationError(
            f"{option} must be at least {MIN_TOKEN_CHARS} characters (got {len(token)}); "
            "leave it out for a random one, or make one with: python -c "
            "'import secrets; print(secrets.token_urlsafe(32))'"
        )


def _stopped(signum: int, frame: FrameType | None) -> None:
    """Nothing left to do: uvicorn has already shut the server down."""
