"""`seqctl enroll`, `enrollments`, `remove`: contacts on sequences."""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.options import (
    AsOption,
    ContactFilterOption,
    JsonOption,
    LimitOption,
    OwnerOption,
    SequenceArgument,
    SequenceFilterArgument,
    file_option,
    parse_pairs,
    viewer,
)
from seqctl.cli.progress import progress
from seqctl.cli.root import app
from seqctl.engine.enrollments import enrollment, removal
from seqctl.engine.sequences import catalog
from seqctl.engine.views import reports
from seqctl.errors import ExitCode, InputError


@app.command()
def enroll(
    ctx: typer.Context,
    sequence: SequenceArgument,
    contact: Annotated[
        list[str] | None,
        typer.Option("--contact", "-c", show_default=False, help="A contact key; repeat for more."),
    ] = None,
    file: Annotated[
        Path | None,
        file_option("Contact keys, one a line, or a CSV/JSONL of contacts; - for stdin."),
    ] = None,
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            show_default=False,
            help="An enrollment variable NAME=VALUE (enrollment.NAME in templates).",
        ),
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put contacts on a sequence (its newest version). Safe to repeat: nobody is enrolled twice.

    Example: seqctl enroll welcome-series --contact ana@example.com --var plan=pro
    """
    if not contact and file is None:
        raise InputError("name contacts with --contact KEY or --file FILE")
    store, now, variables = context.store(ctx), context.now(ctx), parse_pairs(var or [], "--var")
    who = viewer(ctx, as_user)
    with progress("enrolling") as enrolling:
        if file is not None:
            report = enrollment.enroll_file(
                store,
                sequence,
                str(file),
                now=now,
                variables=variables,
                extra_keys=contact or [],
                progress=enrolling.add,
                viewer=who,
            )
        else:
            report = enrollment.enroll(
                store,
                sequence,
                contact or [],
                now=now,
                variables=variables,
                progress=enrolling.add,
                viewer=who,
            )
    if as_json:
        context.emit_json(report.as_json())
    else:
        for refusal in report.refused:
            typer.echo(f"refused {refusal.contact}: {refusal.reason}", err=True)
        typer.echo(
            f"enrolled {report.enrolled:,}, already enrolled {report.already:,}, "
            f"refused {len(report.refused):,}"
        )
    if report.refused:
        raise typer.Exit(int(ExitCode.FINDINGS))


@app.command("enrollments")
def list_enrollments(
    ctx: typer.Context,
    sequence: SequenceFilterArgument = None,
    contact: ContactFilterOption = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            "-s",
            show_default=False,
            help=f"Only this state: {', '.join(reports.STATES)}.",
        ),
    ] = None,
    owner: OwnerOption = None,
    as_user: AsOption = None,
    limit: LimitOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Enrollments with their state, step, next due time and reason.

    Example: seqctl enrollments welcome-series --state failed
    """
    if state is not None and state not in reports.STATES:
        raise InputError(f"--state {state!r}: one of {', '.join(reports.STATES)}")
    store, who = context.store(ctx), viewer(ctx, as_user)
    if sequence is not None:
        catalog.require_visible(store, sequence, who)
    rows = reports.enrollments(
        store,
        sequence=sequence,
        contact=contact,
        state=state,
        among=catalog.admitted(store, who, owner),
        limit=limit or None,
    )
    if as_json:
        context.emit_json(rows)
        return
    context.print_records(
        rows,
        [
            ("id", "id"),
            ("sequence", "sequence"),
            ("v", "version"),
            ("contact", "contact"),
            ("state", "state"),
            ("step", "step"),
            ("next due", "next_due_at"),
            ("reason", "reason"),
        ],
        empty="no enrollments",
        limit=limit,
    )


@app.command()
def remove(
    ctx: typer.Context,
    sequence: SequenceFilterArgument = None,
    contact: Annotated[
        list[str] | None,
        typer.Option("--contact", "-c", show_default=False, help="A contact key; repeat for more."),
    ] = None,
    file: Annotated[
        Path | None,
        file_option("Contact keys, one a line, or a CSV/JSONL with a key column; - for stdin."),
    ] = None,
    all_sequences: Annotated[
        bool,
        typer.Option(
            "--all-sequences", help="Take the contacts off every sequence they are running in."
        ),
    ] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (shown in the timeline).")
    ] = "removed by a person",
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take contacts off a sequence (or off all of them): nothing more is sent to them, their
    open actions are cancelled.

    Example: seqctl remove welcome-series --file unsubscribed.csv --reason "list cleanup"
    """
    if (sequence is None) == (not all_sequences):
        raise InputError("name a sequence, or give --all-sequences (not both)")
    if not contact and file is None:
        raise InputError("give --contact KEY or --file FILE")
    store, now, who = context.store(ctx), context.now(ctx), viewer(ctx, as_user)
    if sequence is not None and contact and len(contact) == 1 and file is None and not as_json:
        enrollment.remove(store, sequence, contact[0], now=now, reason=reason, viewer=who)
        typer.echo(f"{contact[0]}: removed from {sequence}")
        return
    keys = chain(contact or [], removal.keys_in(str(file)) if file is not None else [])
    report = removal.remove_many(store, sequence, keys, now=now, reason=reason, viewer=who)
    if as_json:
        context.emit_json(report.as_json())
    else:
        for where, why in report.refused:
            typer.echo(f"{where}: {why}", err=True)
        for key in report.unknown:
            typer.echo(f"{key}: unknown contact", err=True)
        count = len(report.by_sequence)
        where = f"from {sequence}" if sequence else f"from {count} sequence{'s' * (count != 1)}"
        typer.echo(
            f"removed {report.removed} {where}; {report.not_enrolled} not enrolled"
            + (f", {len(report.unknown)} unknown" if report.unknown else "")
        )
    if report.unknown or report.refused:
        raise typer.Exit(int(ExitCode.FINDINGS))
