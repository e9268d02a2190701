"""The command line: thin typer commands over the library.

Each module under seqctl.cli registers its commands on import. `main` imports only the module
of the command being run, so a tick from cron does not pay for loading every other command;
`seqctl --help` (or anything else) loads them all. `from seqctl.cli import app` gets the app with
every command, for tests and tools.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

# The module defining each top-level command (a test checks that this is complete and right).
COMMANDS: dict[str, tuple[str, ...]] = {
    "actions": ("actions",), "done": ("actions",), "skip": ("actions",),
    "agenda": ("agenda",), "missing": ("agenda",),
    "archive": ("archive",), "unarchive": ("archive",),
    "approvals": ("approvals",), "approve": ("approvals",), "reject": ("approvals",),
    "contacts": ("contacts",),
    "db": ("db",),
    "doctor": ("doctor",),
    "enroll": ("enroll",), "enrollments": ("enroll",), "remove": ("enroll",),
    "event": ("events",), "events": ("events", "serve"), "suppress": ("events",),
    "unsuppress": ("events",), "suppressions": ("events",),
    "graph": ("graph",),
    "inbox": ("inbox",),
    "init": ("scaffold",),
    "lint": ("lint",),
    "publish": ("publish",), "diff": ("publish",),
    "report": ("report",),
    "status": ("reports",), "timeline": ("reports",), "preview": ("reports",),
    "migrate": ("reports",),
    "sequences": ("sequences",), "activate": ("sequences",), "pause": ("sequences",),
    "resume": ("sequences",),
    "tick": ("tick",), "messages": ("tick",), "retry": ("tick",),
}  # fmt: skip
_GLOBAL_OPTIONS_WITH_VALUES = {"--db", "--now", "--config"}

# How `seqctl --help` lists the commands: by what people do, in the order they do it.
GROUPS: dict[str, tuple[str, ...]] = {
    "Playbooks": (
        "init", "lint", "diff", "publish", "sequences", "activate", "pause", "resume",
        "archive", "unarchive", "migrate", "graph",
    ),
    "Contacts and enrollment": (
        "contacts", "enroll", "enrollments", "remove", "suppress", "unsuppress", "suppressions",
    ),
    "Running": ("tick", "messages", "retry", "event", "events", "inbox", "db"),
    "People's work": ("actions", "done", "skip", "approvals", "approve", "reject"),
    "Insight": ("status", "timeline", "preview", "doctor", "agenda", "missing", "report"),
}  # fmt: skip


def load(modules: tuple[str, ...] | None = None) -> typer.Typer:
    """Import the given command modules (all when None) and return the app."""
    names = modules or tuple(sorted({m for ms in COMMANDS.values() for m in ms}))
    for name in names:
        importlib.import_module(f"seqctl.cli.{name}")
    from seqctl.cli.root import app

    return app


def command_of(argv: list[str]) -> str | None:
    """The command name in argv, skipping global options (and their values)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _GLOBAL_OPTIONS_WITH_VALUES:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def main() -> None:
    load(COMMANDS.get(command_of(sys.argv[1:]) or ""))()


def __getattr__(name: str) -> Any:
    if name == "app":
        return load()
    raise AttributeError(name)


__all__ = ["COMMANDS", "GROUPS", "load", "main"]
