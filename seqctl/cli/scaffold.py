"""`seqctl init`: a new playbook repository with starter cadences."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli.root import app
from seqctl.playbook.scaffold import STARTERS, init_project


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            "-t",
            show_default=False,
            help=f"Only this starter: {', '.join(STARTERS)}.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
) -> None:
    """Scaffold playbooks/, templates/, schemas/ and seqctl.yaml with starter cadences.

    Example: seqctl init demo && cd demo && seqctl lint && seqctl publish
    """
    for path in init_project(directory, template=template, force=force):
        typer.echo(f"created {path}")
