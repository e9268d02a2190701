"""Every command and option explains itself, with an example."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from seqctl import __version__
from seqctl.cli import app
from tests.conftest import Run


def commands() -> Iterator[tuple[str, Any]]:
    def walk(prefix: str, command: Any) -> Iterator[tuple[str, Any]]:
        if hasattr(command, "commands"):  # a group (typer ships its own click)
            yield prefix or "seqctl", command
            for name, sub in command.commands.items():
                yield from walk(f"{prefix} {name}".strip(), sub)
        else:
            yield prefix, command

    yield from walk("", get_command(app))


ALL = sorted(commands(), key=lambda item: item[0])


def test_the_commands_of_design_md_exist() -> None:
    names = {name for name, _ in ALL}
    expected = {
        "init",
        "lint",
        "publish",
        "diff",
        "sequences list",
        "sequences show",
        "activate",
        "pause",
        "resume",
        "contacts import",
        "contacts show",
        "contacts list",
        "enroll",
        "enrollments",
        "remove",
        "tick",
        "actions",
        "done",
        "skip",
        "approvals",
        "approve",
        "reject",
        "status",
        "timeline",
        "preview",
        "migrate",
        "messages",
    }
    assert expected <= names


@pytest.mark.parametrize(("name", "command"), ALL, ids=[name for name, _ in ALL])
def test_every_command_has_help_and_an_example(name: str, command: Any) -> None:
    assert command.help, f"{name} has no help"
    assert "Example: seqctl " in command.help, f"{name} --help has no example"
    for param in command.params:
        if type(param).__name__.endswith("Option"):
            assert param.help, f"{name} {param.opts[0]} has no help"


def test_version(run: Run) -> None:
    assert run("--version").stdout == f"seqctl {__version__}\n"


def test_no_arguments_shows_help(run: Run) -> None:
    result = run()
    assert "Usage" in result.stdout + result.stderr


def test_usage_errors_exit_two(run: Run) -> None:
    assert run("tick", "--limit", "zero").exit_code == 2


def test_each_command_is_found_in_the_module_main_loads_for_it() -> None:
    from typer.main import get_command

    from seqctl.cli import COMMANDS, command_of

    group = get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        callbacks = (
            [c.callback for c in command.commands.values()]
            if hasattr(command, "commands")
            else [command.callback]
        )
        modules = {f"seqctl.cli.{m}" for m in COMMANDS[name]}
        assert {c.__module__ for c in callbacks} <= modules, name
    assert set(COMMANDS) == set(group.commands)  # type: ignore[attr-defined]
    assert command_of(["--db", "x.db", "--now=2026-11-23T00:00:00Z", "tick", "--json"]) == "tick"
    assert command_of(["--version"]) is None


def test_a_command_runs_with_only_its_module_loaded(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys; sys.argv = ['seqctl', 'tick', '--json']\n"
        "import seqctl.cli as cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "print('seqctl.cli.report' in sys.modules, 'seqctl.cli.graph' in sys.modules)\n"
        # A tick with nothing due (cron, every minute) loads neither Jinja nor the delivery.
        "print('jinja2' in sys.modules, 'seqctl.engine.outbox.delivery' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SEQCTL_NOW": "2026-11-23T00:00:00Z"},
    )
    assert done.stdout.strip().splitlines()[-2:] == ["False False", "False False"]


def test_the_top_level_help_groups_every_command_by_what_people_do(run: Run) -> None:
    from seqctl.cli import GROUPS

    shown = run("--help").stdout
    titles = [f"{title}:" for title in GROUPS]
    lines = shown.splitlines()
    assert [line for line in lines if line in titles] == titles
    assert "Other:" not in lines  # every command has its group
    grouped = [name for names in GROUPS.values() for name in names]
    top_level = sorted(name for name, _ in ALL if name != "seqctl" and " " not in name)
    assert sorted(grouped) == top_level
    # one column for the descriptions, across the groups
    rows = [line for line in lines[lines.index(titles[0]) :] if line.startswith("  ")]
    assert len({re.match(r"  \S+\s+", row).end() for row in rows}) == 1  # type: ignore[union-attr]
