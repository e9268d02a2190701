"""`seqctl agenda` and `missing`: what the coming days hold, and what contacts still lack."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.options import (
    AsOption,
    JsonOption,
    SequenceArgument,
    SequenceFilterOption,
    viewer,
)
from seqctl.cli.root import app
from seqctl.engine.enrollments import missing as lacking
from seqctl.engine.views import agenda as planning
from seqctl.errors import ExitCode


@app.command()
def agenda(
    ctx: typer.Context,
    days: Annotated[
        int,
        typer.Option(
            "--days", min=1, help="How many days, today (UTC) included; days are UTC dates."
        ),
    ] = 7,
    sequence: SequenceFilterOption = None,
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner", help="Only this owner (or assignee of actions).", show_default=False
        ),
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Automatic messages and actions per UTC day, sequence and owner, against daily limits.

    A forecast: each step is taken as done when it falls due; a branch, or an open action,
    ends the forecast of its enrollment. What is already due counts on today.

    Example: seqctl agenda --days 3 --owner ana@acme.test
    """
    rows = planning.agenda(
        context.store(ctx),
        context.now(ctx),
        days=days,
        sequence=sequence,
        owner=owner,
        viewer=viewer(ctx, as_user),
    )
    if as_json:
        context.emit_json([row.as_json() for row in rows])
        return
    if not rows:
        typer.echo(f"nothing due in the next {days} day{'s' if days != 1 else ''}")
        return
    table = [[r.date, r.sequence, r.owner, r.messages, r.actions, r.limit, r.note] for r in rows]
    headers = ["date", "sequence", "owner", "messages", "actions", "limit", "note"]
    typer.echo(context.table(headers, table))


@app.command()
def missing(
    ctx: typer.Context,
    sequence: SequenceArgument,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write the CSV here (default: standard output).", show_default=False
        ),
    ] = None,
    as_user: AsOption = None,
) -> None:
    """Enrolled contacts lacking a value a step ahead of them needs, as a CSV to fill in.

    The CSV has `key` and one column per missing contact attribute, with current values and
    empty cells to fill; import it back with `seqctl contacts import`. Missing variables that
    are not the contact's (enrollment.X) are listed on standard error. Exit 1 when anything is
    missing.

    Example: seqctl missing welcome-series --out fill-me.csv
    """
    report = lacking.find_missing(
        context.store(ctx), sequence, context.now(ctx), viewer=viewer(ctx, as_user)
    )
    if out is None:
        report.write_csv(sys.stdout)
    else:
        with out.open("w", encoding="utf-8", newline="") as handle:
            report.write_csv(handle)
    for lack in report.lacks:
        for name, step in lack.others:
            typer.echo(
                f"seqctl: {lack.contact}: step '{step}' needs {name}, which has no value", err=True
            )
    if report.lacks:
        raise typer.Exit(int(ExitCode.FINDINGS))
