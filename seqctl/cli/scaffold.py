"""`seqctl init`: a new playbook repository with starter cadences."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.root import app
from seqctl.config import CONFIG_NAME, load_config
from seqctl.playbook.scaffold import STARTERS, init_project
from seqctl.store.location import locate


@app.command()
def init(
    ctx: typer.Context,
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
    """Scaffold playbooks/, templates/, schemas/, seqctl.yaml and .gitignore with starter
    cadences, and create the database.

    The .gitignore keeps the database, the outbox (every recipient's address) and env files
    out of git; an existing .gitignore gets what it lacks.

    Example: seqctl init demo && cd demo && seqctl lint && seqctl publish
    """
    for path in init_project(directory, template=template, force=force):
        typer.echo(f"created {path}")
    given = context.settings(ctx).db
    chosen = locate(given) if given else load_config(directory / CONFIG_NAME).database()
    if not isinstance(chosen, Path):  # a server's database: its schema made if need be
        context.store(ctx, chosen, create=True)
        typer.echo(f"database is ready: {chosen}")
    elif not chosen.exists():
        context.store(ctx, chosen, create=True)
        typer.echo(f"created {chosen}")
