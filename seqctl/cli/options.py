"""Options shared by many commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
