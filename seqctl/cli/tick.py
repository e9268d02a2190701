"""`seqctl tick` (run by cron every minute) and `seqctl messages` (the outbox)."""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seqctl.channels import ChannelSet
from seqctl.cli import context, signals
from seqctl.cli.options import (
    ContactFilterOption,
    JsonOption,
    SequenceFilterArgument,
    SequenceFilterOption,
)
from seqctl.cli.progress import progress
from seqctl.cli.root import app
from seqctl.engine import retry as retrying
from seqctl.engine.tick import tick as run_tick
from seqctl.engine.tracking import tracking_settings
from seqctl.errors import ExitCode, InputError

if TYPE_CHECKING:
    from seqctl.engine.inbox import SyncReport
    from seqctl.engine.stopping import StopRequest
    from seqctl.store import Store

MESSAGE_STATUSES = (
    "pending_approval",
    "queued",
    "sending",
    "sent",
    "failed",
    "rejected",
    "cancelled",
)


@app.command()
def tick(
    ctx: typer.Context,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=1, show_default=False, help="Handle at most this many due enrollments."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what is due; write and send nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Advance every enrollment due now: send, hold for approval, or make an action.

    Run it from cron every minute. Exits 1 when a step failed, 0 otherwise (also when another
    tick is running: that one does the work). Ctrl-C or SIGTERM stops it between two batches,
    with what it sent recorded (exit 130 or 143); a second one stops it at once.

    Example: seqctl tick --now 2026-11-23T09:00:00Z --json
    """
    store = context.store(ctx)
    config = context.config(ctx)
    outbox = context.database_path(ctx).resolve().parent / "outbox.jsonl"
    channels = ChannelSet(
        config.channels, outbox, tracking=tracking_settings(config.data, os.environ)
    )
    try:
        # A dry run writes nothing: it may stop anywhere.
        stopping = nullcontext(None) if dry_run else signals.graceful_stop()
        with progress("advancing due enrollments") as advancing, stopping as stop:
            # Before advancing: a reply read now stops the step this tick would send.
            inbox = _read_inboxes(store, config.data, ctx, stop) if not dry_run else None
            report = run_tick(
                store,
                channels,
                now=context.now(ctx),
                limit=limit,
                dry_run=dry_run,
                senders=config.data.get("senders") or {},
                notifications=config.data.get("notifications"),
                progress=advancing.add,
                stop=stop,
            )
    finally:
        channels.close()
    if inbox is not None:  # the tick went on whatever happened to the inbox: it is told
        for problem in inbox.problems:
            typer.echo(problem, err=True)
        if inbox.read and not as_json:
            typer.echo(f"inbox: {inbox.summary()}")
    if as_json:
        context.emit_json(
            {**report.as_json(), **({"inbox": inbox.as_json()} if inbox is not None else {})}
        )
    elif report.busy is not None:
        typer.echo(f"another tick is running ({report.busy}); nothing to do")
    elif (
        report.due
        or report.sent
        or report.failed
        or report.deferred
        or report.notified
        or context.is_terminal()
    ):
        # Under cron a tick with nothing to do prints nothing: logs grow only with real work.
        prefix = "would handle" if dry_run else "handled"
        typer.echo(
            f"{prefix} {report.due:,} due: {report.sent:,} sent, {report.approvals:,} held for "
            f"approval, {report.actions} actions, {report.failed} failed, "
            f"{report.deferred} deferred, {report.completed} completed"
            + (
                f"; {report.notified} owner digest{'s' if report.notified != 1 else ''} sent"
                if report.notified
                else ""
            )
        )
    if report.stopped is not None:
        typer.echo(
            f"stopped ({report.stopped}) between two batches: the next tick goes on from there",
            err=True,
        )
        raise typer.Exit(signals.exit_code(report.stopped))
    if report.failed or (inbox is not None and inbox.failed):
        raise typer.Exit(int(ExitCode.FINDINGS))


def _read_inboxes(
    store: Store, config: dict[str, Any], ctx: typer.Context, stop: StopRequest | None
) -> SyncReport | None:
    """`inbox sync` when seqctl.yaml has inboxes (imported only then: most ticks have none)."""
    if not config.get("inboxes"):
        return None
    from seqctl.engine.inbox import sync_configured

    return sync_configured(store, config, now=context.now(ctx), stop=stop)


@app.command()
def messages(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", show_default=False, help=f"Only this status: {', '.join(MESSAGE_STATUSES)}."
        ),
    ] = None,
    sequence: SequenceFilterOption = None,
    as_json: JsonOption = False,
) -> None:
    """The outbox: every message with its status, attempts and error.

    Example: seqctl messages --status failed --json
    """
    if status is not None and status not in MESSAGE_STATUSES:
        raise InputError(f"--status {status!r}: one of {', '.join(MESSAGE_STATUSES)}")
    rows = context.store(ctx).messages(status=status, sequence=sequence)
    keys = (
        "id",
        "sequence",
        "contact",
        "step",
        "channel",
        "to",
        "status",
        "attempts",
        "error",
        "sent_at",
    )
    data = [m.as_json(keys) for m in rows]
    if as_json:
        context.emit_json(data)
        return
    context.print_records(
        data,
        [
            ("id", "id"),
            ("sequence", "sequence"),
            ("contact", "contact"),
            ("step", "step"),
            ("channel", "channel"),
            ("status", "status"),
            ("sent", "sent_at"),
            ("error", "error"),
        ],
        empty="no messages",
    )


@app.command()
def retry(
    ctx: typer.Context,
    sequence: SequenceFilterArgument = None,
    contact: ContactFilterOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give failed enrollments another go: failed messages are sent again, failed steps re-run.

    Fix the cause first (a missing attribute: import the contact again; a channel that was
    down: nothing to do). Example: seqctl retry welcome-series --contact ana@example.com
    """
    report = retrying.retry(
        context.store(ctx), now=context.now(ctx), sequence=sequence, contact=contact
    )
    if as_json:
        context.emit_json(report.as_json())
        return
    typer.echo(
        f"{report.messages} messages queued again, {report.steps} steps to run again "
        "at the next tick"
    )
