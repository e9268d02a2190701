"""`seqctl lint`: schema and semantic checks, file:line:col, three formats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.root import app
from seqctl.errors import ExitCode
from seqctl.playbook.lint import lint_paths
from seqctl.playbook.report import REPORTERS, Format, default_format

PathsArgument = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Playbook files or folders (default: the playbooks/ folder).", show_default=False
    ),
]


def default_paths(ctx: typer.Context, paths: list[Path] | None) -> list[Path]:
    return list(paths) if paths else [context.config(ctx).playbooks]


@app.command()
def lint(
    ctx: typer.Context,
    paths: PathsArgument = None,
    output: Annotated[
        Format | None,
        typer.Option(
            "--format",
            "-f",
            show_default=False,
            help="text, json or github (default: github under GitHub Actions, else text).",
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too.")] = False,
) -> None:
    """Check playbooks against the schema and the rules; print findings as file:line:col.

    Example: seqctl lint playbooks/ --format github
    """
    result = lint_paths(default_paths(ctx, paths), now=context.now(ctx))
    rendered = REPORTERS[output or default_format()](result)
    if rendered:
        typer.echo(rendered)
    if result.failed(strict=strict):
        raise typer.Exit(int(ExitCode.FINDINGS))
