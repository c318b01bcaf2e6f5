"""docs/deployment.md: every YAML block parses, and every `conveyor` command it shows (in
YAML, systemd units and console examples) is one the CLI accepts, options and all."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml

from conveyor.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def yaml_commands(node: object) -> Iterator[list[str]]:
    """Every ``command:`` list that runs conveyor, anywhere in a YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "command" and isinstance(value, list) and value[:1] == ["conveyor"]:
                yield [str(v) for v in value[1:]]
            else:
                yield from yaml_commands(value)
    elif isinstance(node, list):
        for item in node:
            yield from yaml_commands(item)


def commands() -> list[list[str]]:
    found: list[list[str]] = []
    for block in blocks("yaml"):
        for document in yaml.safe_load_all(block):
            found.extend(yaml_commands(document))
    for block in blocks("ini"):
        for line in block.splitlines():
            if line.startswith(("ExecStart=", "ExecStartPre=")):
                words = shlex.split(line.split("=", 1)[1])
                assert words[0].endswith("/conveyor"), line
                found.append(words[1:])
    for block in blocks("console"):
        for line in block.splitlines():
            if line.startswith("$ conveyor "):
                found.append(shlex.split(line)[2:])
    return found


def test_the_guide_shows_commands_of_every_kind() -> None:
    names = {args[0] for args in commands()}
    assert {"worker", "scheduler", "dashboard", "migrate", "scale-hint"} <= names


@pytest.mark.parametrize("args", commands(), ids=lambda args: " ".join(args)[:60])
def test_every_command_in_the_guide_parses(args: list[str]) -> None:
    # The systemd template's %i stands for a queue name.
    args = [arg.replace("%i", "emails") for arg in args]
    assert isinstance(main, click.Group)
    group = click.Context(main, info_name="conveyor")
    name, command, rest = main.resolve_command(group, args)
    assert command is not None, args
    # Parses the options and arguments as the command would, without running it.
    command.make_context(str(name), list(rest), parent=group)
