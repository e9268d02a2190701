"""`seqctl actions`, `done`, `skip`: the task queue for people."""

from __future__ import annotations

from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.options import (
    AsOption,
    ByOption,
    JsonOption,
    LimitOption,
    OwnerOption,
    SequenceFilterOption,
    viewer,
    who_did,
)
from seqctl.cli.root import app
from seqctl.engine.people import actions as queue
from seqctl.errors import InputError
from seqctl.timeutil import format_instant


@app.command()
def actions(
    ctx: typer.Context,
    due: Annotated[
        bool, typer.Option("--due", help="Only actions due now (overdue included).")
    ] = False,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only actions due over a day ago.")
    ] = False,
    upcoming: Annotated[
        bool, typer.Option("--upcoming", help="Only manual steps not due yet.")
    ] = False,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help="Also those on hold in a paused sequence or enrollment (as paused)."
        ),
    ] = False,
    sequence: SequenceFilterOption = None,
    owner: OwnerOption = None,
    as_user: AsOption = None,
    limit: LimitOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Calls, tasks and manual emails for people: due, overdue and upcoming.

    --owner and --as go by the sequence's owner, or the step's assignee when it has one.
    Those of a paused sequence wait with it: --all shows them, as paused.

    Example: seqctl actions --due
    """
    chosen = [
        t
        for t, on in (
            (queue.Timing.DUE, due),
            (queue.Timing.OVERDUE, overdue),
            (queue.Timing.UPCOMING, upcoming),
        )
        if on
    ]
    if len(chosen) > 1:
        raise InputError("choose one of --due, --overdue, --upcoming")
    views = queue.list_actions(
        context.store(ctx),
        context.now(ctx),
        show=chosen[0] if chosen else None,
        sequence=sequence,
        viewer=viewer(ctx, as_user),
        owner=owner,
        paused=all_,
    )[: limit or None]
    if as_json:
        context.emit_json([v.as_json() for v in views])
        return
    rows = [
        [v.id, v.status, format_instant(v.due_at), v.sequence, v.contact, v.type, v.title]
        for v in views
    ]
    typer.echo(
        context.table(["id", "status", "due", "sequence", "contact", "type", "title"], rows)
        if rows
        else "no actions"
    )
    context.more_note(len(rows), limit)


def _close(
    ctx: typer.Context, action_id: int, skipped: bool, by: str | None, as_user: str | None
) -> None:
    who = who_did(by)
    action, state = queue.close(
        context.store(ctx),
        action_id,
        now=context.now(ctx),
        skipped=skipped,
        by=who,
        viewer=viewer(ctx, as_user),
    )
    verb = "skipped" if skipped else "done"
    typer.echo(
        f"action {action_id} ({action.type} for {action.contact}): {verb}; enrollment is {state}"
    )


@app.command()
def done(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(help="The action id (seqctl actions).")],
    by: ByOption = None,
    as_user: AsOption = None,
) -> None:
    """Mark an action done: the next step's wait counts from now.

    Example: seqctl done 42 --by ana@acme.test
    """
    _close(ctx, action_id, False, by, as_user)


@app.command()
def skip(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(help="The action id (seqctl actions).")],
    by: ByOption = None,
    as_user: AsOption = None,
) -> None:
    """Skip an action: the enrollment moves on (skipping the last step completes it).

    Example: seqctl skip 42
    """
    _close(ctx, action_id, True, by, as_user)
