"""`seqctl inbox sync` and `inbox status`: replies, out-of-office and bounces from the mailbox."""

from __future__ import annotations

import typer

from seqctl.cli import context, signals
from seqctl.cli.options import JsonOption
from seqctl.cli.root import app
from seqctl.engine.inbox import SyncReport, inbox_settings, sync
from seqctl.errors import InputError
from seqctl.timeutil import format_instant

inbox_app = typer.Typer(
    help=(
        "Replies, out-of-office replies, bounces and unsubscribes read from the senders' "
        "mailboxes over IMAP (`inboxes:` in seqctl.yaml).\n\nExample: seqctl inbox sync"
    ),
    no_args_is_help=True,
)
app.add_typer(inbox_app, name="inbox")


@inbox_app.command("sync")
def sync_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Read what is new in each inbox and apply it as `seqctl event` would.

    A reply ends or pauses the sequence it answers (the playbook's `on:`), an out-of-office
    reply pauses it until the stated return date, a bounce and an unsubscribe also go on the
    suppression list. Nothing in the mailbox is changed unless the inbox sets mark_seen or
    move_to. `seqctl tick` runs it too. Ctrl-C or SIGTERM stops it between two messages, with
    what it read recorded (exit 130 or 143). Exits 2 when an inbox's configuration is wrong
    (a variable it names is not set), 1 when an inbox could not be read.
    Mail that cannot be read is skipped, and said on stderr.

    Example: seqctl inbox sync --json
    """
    inboxes = inbox_settings(context.config(ctx).data)
    if not inboxes:
        raise InputError(
            "no inboxes in seqctl.yaml: add `inboxes:` (see the docs: how-to, Inbox sync)"
        )
    store = context.store(ctx)
    with signals.graceful_stop() as stop:
        report = sync(store, inboxes, now=context.now(ctx), stop=stop)
    print_report(report, as_json)
    if report.stopped is not None:
        typer.echo(f"stopped ({report.stopped}) between two messages", err=True)
        raise typer.Exit(signals.exit_code(report.stopped))
    if report.exit_code:
        raise typer.Exit(int(report.exit_code))


def print_report(report: SyncReport, as_json: bool) -> None:
    """The report on stdout; what went wrong on stderr (in JSON, only in the report)."""
    if as_json:
        context.emit_json(report.as_json())
        return
    for problem in report.problems:
        typer.echo(problem, err=True)
    typer.echo(report.summary())


@inbox_app.command("status")
def status_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Each inbox folder: when it was last read, how far, what came of it, the last error.

    Example: seqctl inbox status
    """
    folders = context.store(ctx).inbox_folders()
    rows = [
        {
            "inbox": f.inbox,
            "folder": f.folder,
            "synced_at": format_instant(f.synced_at),
            "uidvalidity": f.uidvalidity,
            "last_uid": f.last_uid,
            "messages": f.messages,
            "events": f.events,
            "unmatched": f.unmatched,
            "skipped": f.skipped,
            "error": f.error,
        }
        for f in folders
    ]
    if as_json:
        context.emit_json(rows)
        return
    context.print_records(
        rows,
        [
            ("inbox", "inbox"),
            ("folder", "folder"),
            ("read at", "synced_at"),
            ("last uid", "last_uid"),
            ("messages", "messages"),
            ("events", "events"),
            ("unmatched", "unmatched"),
            ("skipped", "skipped"),
            ("error", "error"),
        ],
        empty="no inbox has been read yet: seqctl inbox sync",
    )
