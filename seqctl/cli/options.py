"""Options shared by many commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.engine.visibility import Viewer
from seqctl.errors import InputError

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar="SEQCTL_DB",
        help="Database file (default: seqctl.yaml's, else ./seqctl.db).",
        show_default=False,
    ),
]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        envvar="SEQCTL_NOW",
        help="Act as if it were this ISO 8601 time (tests, replays).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="SEQCTL_CONFIG",
        help="Configuration file (default: ./seqctl.yaml).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
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
