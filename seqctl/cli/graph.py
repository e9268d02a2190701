"""`seqctl graph`: a sequence as a Mermaid or Graphviz diagram."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.options import AsOption, viewer
from seqctl.cli.root import app
from seqctl.engine.sequences import graph as graphing


class GraphFormat(StrEnum):
    MERMAID = "mermaid"
    DOT = "dot"


@app.command()
def graph(
    ctx: typer.Context,
    sequence: Annotated[
        str, typer.Argument(help="A published sequence id, or a playbook file.", show_default=False)
    ],
    fmt: Annotated[
        GraphFormat,
        typer.Option("--format", "-f", help="mermaid (Markdown, GitHub) or dot (Graphviz)."),
    ] = GraphFormat.MERMAID,
    version: Annotated[
        int | None,
        typer.Option(
            "--version", "-v", help="A version number (default: the newest).", show_default=False
        ),
    ] = None,
    as_user: AsOption = None,
) -> None:
    """Print a sequence as a diagram: its steps, waits, branches and exits.

    Example: seqctl graph welcome-series --format dot | dot -Tsvg > welcome.svg
    """
    is_file = version is None and Path(sequence).is_file()
    store = context.store_for_file(ctx) if is_file else context.store(ctx)
    model = graphing.load(store, sequence, version, viewer=viewer(ctx, as_user))
    if fmt is GraphFormat.DOT:
        typer.echo(graphing.dot(model, title=model.name), nl=False)
    else:
        typer.echo(graphing.mermaid(model, title=model.name), nl=False)
