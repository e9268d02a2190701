"""`seqctl approvals`, `approve`, `reject`: nothing goes out without an OK."""

from __future__ import annotations

from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.options import (
    AsOption,
    ByOption,
    JsonOption,
    LimitOption,
    SequenceFilterOption,
    viewer,
    who_did,
)
from seqctl.cli.root import app
from seqctl.engine.people import approvals as gate
from seqctl.errors import InputError


@app.command("approvals")
def list_approvals(
    ctx: typer.Context,
    sequence: SequenceFilterOption = None,
    preview: Annotated[
        bool,
        typer.Option("--preview", help="Show what each auto_approve rule would let out now."),
    ] = False,
    all_: Annotated[
        bool,
        typer.Option("--all", help="Also those on hold in a paused sequence (marked paused)."),
    ] = False,
    limit: LimitOption = 0,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Messages waiting for a person's OK, rendered exactly as they would go out.

    Those of a paused sequence or enrollment wait with it: --all shows them.

    Example: seqctl approvals --json
    """
    if preview:
        rules = gate.preview_rules(
            context.store(ctx), context.now(ctx), sequence, viewer=viewer(ctx, as_user)
        )
        if as_json:
            context.emit_json(rules)
            return
        rows = [
            [
                r["sequence"],
                r["step"],
                r["max_per_day"],
                r["used_today"],
                r["due"],
                r["would_approve"],
                r["would_hold"],
            ]
            for r in rules
        ]
        typer.echo(
            context.table(
                ["sequence", "step", "cap", "used (24h)", "due now", "approve", "hold"], rows
            )
            if rows
            else "no auto_approve rules"
        )
        return
    found = gate.waiting(context.store(ctx), sequence, paused=all_, viewer=viewer(ctx, as_user))
    waiting = found[: limit or None]
    keys = ("id", "sequence", "contact", "step", "channel", "to", "subject", "body", "variant")
    data = [{**m.as_json(keys), "paused": held} for m, held in waiting]
    if as_json:
        context.emit_json(data)
        return
    if not data:
        typer.echo("nothing waits for approval")
    for item in data:
        variant = f" (variant {item['variant']})" if item["variant"] else ""
        typer.echo(
            f"#{item['id']} {item['sequence']}/{item['step']}{variant} {item['channel']} "
            f"to {item['to']}" + (" (paused)" if item["paused"] else "")
        )
        if item["subject"]:
            typer.echo(f"  Subject: {item['subject']}")
        for line in str(item["body"] or "").splitlines():
            typer.echo(f"  | {line}".rstrip())
    context.more_note(len(data), limit)


@app.command()
def approve(
    ctx: typer.Context,
    ids: Annotated[
        list[int] | None, typer.Argument(help="Message ids (seqctl approvals).", show_default=False)
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Approve everything waiting.")] = False,
    sequence: Annotated[
        str | None,
        typer.Option("--sequence", show_default=False, help="With --all: only this sequence."),
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            show_default=False,
            help="Replace the subject before approving (one message).",
        ),
    ] = None,
    body: Annotated[
        str | None,
        typer.Option(
            "--body", show_default=False, help="Replace the body before approving (one message)."
        ),
    ] = None,
    by: ByOption = None,
    as_user: AsOption = None,
) -> None:
    """Approve messages: the next tick sends them.

    Example: seqctl approve --all --sequence welcome-series
    """
    store = context.store(ctx)
    if all_ == bool(ids):
        raise InputError("give message ids or --all")
    who = who_did(by)
    if all_:
        if subject is not None or body is not None:
            raise InputError("--subject/--body edit one message: give its id, not --all")
        who_sees = viewer(ctx, as_user)
        count = gate.approve_all(
            store, now=context.now(ctx), by=who, sequence=sequence, viewer=who_sees
        )
        held = len(gate.waiting(store, sequence, paused=True, viewer=who_sees))
        note = f"; {held} on hold in paused sequences (approve them by id)" if held else ""
        typer.echo(f"approved {count} message{'s' if count != 1 else ''}{note}")
        return
    approved = gate.approve(
        store,
        list(ids or []),
        now=context.now(ctx),
        by=who,
        subject=subject,
        body=body,
        viewer=viewer(ctx, as_user),
    )
    typer.echo(f"approved {len(approved)} message{'s' if len(approved) != 1 else ''}")
    for message in gate.on_hold(store, approved):
        typer.echo(f"#{message.id}: on hold, sent once {message.sequence} is resumed")


@app.command()
def reject(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(help="The message id (seqctl approvals).")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the timeline).", show_default=False)
    ] = None,
    by: ByOption = None,
    as_user: AsOption = None,
) -> None:
    """Reject a message: it is never sent and the enrollment moves on to its next step.

    Example: seqctl reject 17 --reason "wrong tone for this client"
    """
    state = gate.reject(
        context.store(ctx),
        message_id,
        now=context.now(ctx),
        by=who_did(by),
        reason=reason,
        viewer=viewer(ctx, as_user),
    )
    typer.echo(f"message {message_id}: rejected; enrollment is {state}")
