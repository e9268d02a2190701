"""`seqctl lint`: schema and semantic checks, file:line:col, three formats."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.root import app
from seqctl.config import Config, find_config
from seqctl.errors import ConfigError, ExitCode
from seqctl.playbook.lint import LintResult, lint_paths, lint_repository
from seqctl.playbook.report import REPORTERS, Format, default_format

PathsArgument = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Playbook files or folders (default: the playbooks/ folder).", show_default=False
    ),
]
LintPathsArgument = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Playbook files or folders, template files, seqctl.yaml (default: the repository:"
        " the playbooks/ folder, its templates/ and seqctl.yaml).",
        show_default=False,
    ),
]


def default_paths(ctx: typer.Context, paths: list[Path] | None) -> list[Path]:
    return list(paths) if paths else [context.config(ctx).playbooks]


def _lint_repository(ctx: typer.Context, now: datetime) -> LintResult:
    """No paths: the repository's playbooks, templates and seqctl.yaml, in one run.

    A seqctl.yaml with errors is reported like a playbook's (and its default playbooks/ folder
    linted), not a reason to stop before the playbooks.
    """
    settings = context.settings(ctx)
    try:
        found = context.config(ctx)
    except ConfigError:
        found = Config(find_config(settings.config))
    return lint_repository(found.playbooks, config=found.path, now=now)


@app.command()
def lint(
    ctx: typer.Context,
    paths: LintPathsArgument = None,
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
    """Check playbooks, their templates and seqctl.yaml; print findings as file:line:col.

    Example: seqctl lint playbooks/ --format github
    """
    now = context.now(ctx)
    result = lint_paths(paths, now=now) if paths else _lint_repository(ctx, now)
    rendered = REPORTERS[output or default_format()](result)
    if rendered:
        typer.echo(rendered)
    if result.failed(strict=strict):
        raise typer.Exit(int(ExitCode.FINDINGS))
