"""`seqctl sequences list|show`, and `activate`, `pause`, `resume` of a whole sequence."""

from __future__ import annotations

from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.options import AsOption, JsonOption, OwnerOption, viewer
from seqctl.cli.root import app
from seqctl.engine.enrollments import enrollment
from seqctl.engine.sequences import catalog, lifecycle

sequences_app = typer.Typer(
    help="Published sequences: list them, show one.\n\nExample: seqctl sequences list",
    no_args_is_help=True,
)
app.add_typer(sequences_app, name="sequences")

SequenceArgument = Annotated[
    str, typer.Argument(help="The sequence id (its slug).", show_default=False)
]


@sequences_app.command("list")
def list_sequences(
    ctx: typer.Context,
    owner: OwnerOption = None,
    archived: Annotated[
        bool, typer.Option("--archived", help="Only archived sequences (hidden otherwise).")
    ] = False,
    all_: Annotated[bool, typer.Option("--all", help="Archived sequences too.")] = False,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every published sequence with its status and newest version (archived ones on request).

    Example: seqctl sequences list --owner ana@acme.test --json
    """
    views = catalog.sequence_views(
        context.store(ctx),
        viewer=viewer(ctx, as_user),
        owner=owner,
        archived=None if all_ else archived,
    )
    if as_json:
        context.emit_json([v.summary() for v in views])
        return
    rows = [
        [v.record.id, v.record.status, v.version.number, len(v.model.steps), v.model.name]
        for v in views
    ]
    typer.echo(
        context.table(["sequence", "status", "version", "steps", "name"], rows)
        if rows
        else "no sequences to show"
        if owner or as_user or archived
        else "no sequences published yet (seqctl publish)"
    )


@sequences_app.command("show")
def show_sequence(
    ctx: typer.Context,
    sequence: SequenceArgument,
    version: Annotated[
        int | None,
        typer.Option(
            "--version", "-v", help="A version number (default: the newest).", show_default=False
        ),
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """One sequence: its steps, waits and versions.

    Example: seqctl sequences show welcome-series --version 1
    """
    store = context.store(ctx)
    view = catalog.sequence_view(store, sequence, version, viewer=viewer(ctx, as_user))
    details = view.details(store.versions(sequence))
    if as_json:
        context.emit_json(details)
        return
    typer.echo(
        f"{details['sequence']}: {details['name']} ({details['status']}, version "
        f"{details['version']} of {len(details['versions'])})"
    )
    if details["description"]:
        typer.echo(f"  {details['description']}")
    typer.echo(
        f"  published {details['published_at']} by {details['published_by'] or '-'}"
        f" from {details['source'] or '-'}"
    )
    rows = [
        [
            s["id"],
            s["type"],
            s["mode"],
            s["wait"] or (f"day {s['day']}" if s["day"] else ""),
            s["subject"],
        ]
        for s in details["steps"]
    ]
    headers = ["step", "type", "mode", "after", "subject"]
    if any("variants" in s for s in details["steps"]):  # a column only for an A/B test
        headers.append("variants")
        for row, step in zip(rows, details["steps"], strict=True):
            row.append(_variants(step))
    typer.echo(context.table(headers, rows))


def _variants(step: dict[str, object]) -> str:
    """`a 70%, b 30%` for an A/B-tested step, with the winner when there is one."""
    variants = step.get("variants")
    if not isinstance(variants, list):
        return ""
    shown = ", ".join(f"{v['id']} {v['share']:.0%}" for v in variants)
    return f"{shown}; winner {step['winner']}" if step.get("winner") else shown


def _set_status(
    ctx: typer.Context, sequence: str, status: str, verb: str, as_user: str | None
) -> None:
    before = lifecycle.set_status(
        context.store(ctx), sequence, status, context.now(ctx), viewer=viewer(ctx, as_user)
    )
    typer.echo(f"{sequence}: {verb}" if before != status else f"{sequence}: already {status}")


@app.command()
def activate(ctx: typer.Context, sequence: SequenceArgument, as_user: AsOption = None) -> None:
    """Start a sequence: new ones are drafts until activated.

    Example: seqctl activate welcome-series
    """
    _set_status(ctx, sequence, "active", "active", as_user)


ContactOption = Annotated[
    str | None,
    typer.Option(
        "--contact",
        "-c",
        show_default=False,
        help="Only this contact's enrollment instead of the whole sequence.",
    ),
]


@app.command()
def pause(
    ctx: typer.Context,
    sequence: SequenceArgument,
    contact: ContactOption = None,
    as_user: AsOption = None,
) -> None:
    """Pause a whole sequence (or one contact's enrollment): countdowns freeze where they are.

    Example: seqctl pause welcome-series --contact ana@example.com
    """
    if contact is None:
        _set_status(ctx, sequence, "paused", "paused", as_user)
        return
    enrollment.pause(
        context.store(ctx),
        sequence,
        contact,
        now=context.now(ctx),
        viewer=viewer(ctx, as_user),
    )
    typer.echo(f"{contact}: paused in {sequence}")


@app.command()
def resume(
    ctx: typer.Context,
    sequence: SequenceArgument,
    contact: ContactOption = None,
    as_user: AsOption = None,
) -> None:
    """Resume a paused sequence (or enrollment): due times move later by the time spent paused.

    Example: seqctl resume welcome-series
    """
    if contact is None:
        _set_status(ctx, sequence, "active", "resumed", as_user)
        return
    enrollment.resume(
        context.store(ctx), sequence, contact, now=context.now(ctx), viewer=viewer(ctx, as_user)
    )
    typer.echo(f"{contact}: resumed in {sequence}")
