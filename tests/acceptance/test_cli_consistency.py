"""The CLI's shared conventions, as a user meets them: how a command takes the app, and how
``--json`` prints moments (ISO 8601 with a zone, never epoch numbers)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import click
import pytest
from click.testing import CliRunner

from conveyor._loading import load_app
from conveyor.cli import COMMANDS, main
from conveyor.cli.options import APP_ARGUMENT
from conveyor.cli.render import TIME_KEYS, TIME_SUFFIXES
from conveyor.testing import drain

from .conftest import Project

# -- the app: APP or --app --------------------------------------------------------------------


def _leaves(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    if isinstance(command, click.Group):
        yield path, command
        for name, sub in command.commands.items():
            yield from _leaves(sub, f"{path} {name}")
    else:
        yield path, command


def test_every_command_that_takes_the_app_takes_it_the_same_way() -> None:
    """``--app`` everywhere; a positional ``[APP]`` too wherever the command has no other
    argument (groups excepted: an argument there reads as a subcommand)."""
    ctx = click.Context(main)
    checked = 0
    for name in COMMANDS:
        top = main.get_command(ctx, name)
        assert top is not None
        for path, command in _leaves(top, name):
            params = {p.name: p for p in command.params}
            if "app_spec" not in params and "app_option" not in params:
                continue
            checked += 1
            option = params.get("app_spec") or params["app_option"]
            assert "--app" in option.opts, path
            arguments = [p for p in command.params if isinstance(p, click.Argument)]
            if isinstance(command, click.Group):
                continue
            takes_app = any(p.name in (APP_ARGUMENT,) for p in arguments)
            assert takes_app or arguments, f"`conveyor {path}` takes no positional APP"
    assert checked > 25


def test_a_listing_command_takes_the_app_as_an_argument_or_an_option(project: Project) -> None:
    project.enqueue("shop.always_fails", {"order_id": 1}, "--queue", "orders")
    positional = project.ok("jobs", "list", "shopapp:app", "--json").json()
    option = project.ok("jobs", "list", "--app", "shopapp:app", "--json").json()
    assert positional == option and len(option["jobs"]) == 1
    assert project.ok("dlq", "list", "shopapp:app").out == project.ok(
        "dlq", "list", "--app", "shopapp:app"
    ).out


def test_the_app_given_twice_differently_is_refused(project: Project) -> None:
    result = project.run("dlq", "list", "shopapp:app", "--app", "billingapp:app")
    assert result.code == 2 and "Traceback" not in result.err
    assert ("the app is given twice, as APP (shopapp:app) and as --app (billingapp:app); "
            "give it once") in result.err
    # The environment variable is a default, not a second answer: the argument wins.
    env = {"CONVEYOR_APP": "billingapp:app"}
    assert project.ok("jobs", "list", "shopapp:app", env=env).code == 0


def test_a_command_with_arguments_of_its_own_says_to_use_app(project: Project) -> None:
    job_id = project.enqueue("shop.add", {"a": 1, "b": 2})
    result = project.run("jobs", "show", str(job_id), "shopapp:app")
    assert result.code == 2 and "Traceback" not in result.err
    assert ("Got unexpected extra argument (shopapp:app). `conveyor jobs show` takes your app "
            "as an option, not as an argument: `conveyor jobs show ... --app shopapp:app` (or "
            "set CONVEYOR_APP=shopapp:app)") in result.err
    grouped = project.run("queues", "shopapp:app")
    assert "`conveyor queues` takes your app as an option" in grouped.err
    unrelated = project.run("jobs", "show", str(job_id), "12")  # not an app: no hint
    assert "takes your app" not in unrelated.err


# -- --json moments ---------------------------------------------------------------------------


def _walk(value: Any, key: str = "", path: str = "") -> Iterator[tuple[str, str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, k, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, key, f"{path}[{i}]")
    else:
        yield path, key, value


def _check_moments(document: Any, where: str) -> int:
    """Assert every moment is ISO 8601 with a zone and no number looks like epoch seconds;
    return how many moments were seen."""
    moments = 0
    for path, key, value in _walk(document):
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        assert not (numeric and 1e9 < value < 1e10), f"{where}: {path} = {value} (epoch?)"
        if (key in TIME_KEYS or key.endswith(TIME_SUFFIXES)) and value is not None:
            assert isinstance(value, str), f"{where}: {path} = {value!r}"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", value), (
                f"{where}: {path} = {value!r}"
            )
            assert datetime.fromisoformat(value).tzinfo is not None
            moments += 1
    return moments


def test_json_moments_are_iso_8601_with_a_zone_in_every_command(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In this process, with drain() for a worker: a dozen interpreters' start-up would cost
    # far more than everything else this test does (the commands' own processes are tested
    # throughout this folder).
    monkeypatch.chdir(project.path)
    monkeypatch.setenv("CONVEYOR_URL", project.url)
    monkeypatch.delitem(sys.modules, "shopapp", raising=False)
    runner = CliRunner(env=project.env)

    def cli(*args: str) -> Any:
        done = runner.invoke(main, [*args, "--url", project.url])
        assert done.exit_code == 0, (args, done.output)
        return json.loads(done.stdout) if "--json" in args else done.stdout

    dead = cli("enqueue", "shop.always_fails", "--app", "shopapp:app", "--args",
               '{"order_id": 1}', "--json")["id"]
    later = cli("enqueue", "shop.add", "--app", "shopapp:app", "--args", '{"a": 1, "b": 2}',
                "--delay", "1h", "--json")["id"]
    app = load_app("shopapp:app")
    try:
        assert drain(app, skip_backoff=True).dead == 1
    finally:
        app.close()
    cli("checkin", "backup", "--every", "1d")
    cli("schedules", "add", "hourly", "--job", "shop.add", "--every", "1h",
        "--args", '{"a": 1, "b": 1}')
    commands = [
        ("enqueue", "shop.add", "--app", "shopapp:app", "--args", '{"a": 1, "b": 2}'),
        ("jobs", "list"), ("jobs", "show", str(dead)), ("jobs", "show", str(later)),
        ("jobs", "why", str(later), "--app", "shopapp:app"), ("dlq", "list"),
        ("dlq", "show", str(dead)), ("queues",), ("checkin", "--list"),
        ("checkin", "backup"), ("schedules",), ("schedules", "show", "hourly"),
        ("alerts",), ("runs", "list"),
    ]
    seen = 0
    for command in commands:
        seen += _check_moments(cli(*command, "--json"), " ".join(command))
    assert seen > 20
