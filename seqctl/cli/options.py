"""Options shared by many commands, defined once."""

from __future__ import annotations

import getpass
import os
from typing import Annotated, Any

import typer

from seqctl.cli import context
from seqctl.engine.sequences.visibility import Viewer
from seqctl.errors import InputError

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SequenceArgument = Annotated[str, typer.Argument(help="The sequence id.", show_default=False)]
SequenceFilterArgument = Annotated[
    str | None, typer.Argument(help="Only this sequence.", show_default=False)
]
SequenceFilterOption = Annotated[
    str | None, typer.Option("--sequence", help="Only this sequence.", show_default=False)
]
ContactOption = Annotated[
    str, typer.Option("--contact", "-c", help="The contact key.", show_default=False)
]
ContactFilterOption = Annotated[
    str | None, typer.Option("--contact", "-c", help="Only this contact.", show_default=False)
]
OwnerOption = Annotated[
    str | None,
    typer.Option(
        "--owner",
        metavar="EMAIL",
        help="Only sequences owned by this person.",
        show_default=False,
    ),
]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="USER",
        envvar="SEQCTL_USER",
        help=(
            "Act as this person: private and team sequences are shown only to those who may"
            " see them."
        ),
        show_default=False,
    ),
]


ByOption = Annotated[
    str | None,
    typer.Option(
        "--by",
        metavar="USER",
        envvar="SEQCTL_USER",
        show_default=False,
        help="Who does it, for the history (default: $SEQCTL_USER, else $USER).",
    ),
]


def who_did(by: str | None) -> str | None:
    """Who a change is recorded as: --by (or SEQCTL_USER), else the login name, else nobody."""
    if by and by.strip():
        return by.strip()
    try:
        return os.environ.get("USER") or getpass.getuser() or None
    except (KeyError, OSError):  # a container's uid with no name
        return None


LimitOption = Annotated[
    int,
    typer.Option(
        "--limit", "-n", min=0, help="Show at most this many (default: all).", show_default=False
    ),
]


def file_option(help_text: str) -> Any:
    """--file/-f: values read from a file (or - for stdin); `help_text` says what it holds."""
    return typer.Option("--file", "-f", show_default=False, help=help_text)


def parse_pairs(items: list[str], option: str) -> dict[str, str]:
    """NAME=VALUE options (--var, --data) as a dict; InputError names the bad one."""
    parsed = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"{option} {item!r}: expected NAME=VALUE")
        parsed[name.strip()] = value
    return parsed


def viewer(ctx: typer.Context, user: str | None) -> Viewer | None:
    """Who --as (or SEQCTL_USER) names, with the teams of seqctl.yaml; None: sees everything."""
    if user is None or not user.strip():
        return None
    teams = context.config(ctx).data.get("teams") or {}
    return Viewer(user.strip(), teams)
