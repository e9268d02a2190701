"""`seqctl event`, `events import`, `suppress`, `unsuppress`, `suppressions`: what happened to
contacts, and who is never messaged again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.options import (
    AsOption,
    ByOption,
    ContactOption,
    JsonOption,
    LimitOption,
    file_option,
    parse_pairs,
    viewer,
    who_did,
)
from seqctl.cli.root import app
from seqctl.engine.contacts import Lines, open_source
from seqctl.engine.incoming import events as incoming
from seqctl.engine.incoming import suppression
from seqctl.errors import ExitCode, InputError
from seqctl.timeutil import format_instant

events_app = typer.Typer(
    help=(
        "Events from files or providers: replies, bounces, ...\n\n"
        "Example: seqctl events import replies.jsonl"
    ),
    no_args_is_help=True,
)
app.add_typer(events_app, name="events")


def _report(report: incoming.EventReport, as_json: bool) -> None:
    if as_json:
        context.emit_json(report.as_json())
    else:
        for where, reason in report.refused:
            typer.echo(f"{where}: {reason}", err=True)
        typer.echo(
            f"recorded {_n(report.recorded, 'event')} ({report.duplicates} already known); "
            f"{_n(report.exited, 'enrollment')} exited, {report.paused} paused; "
            f"{len(report.refused)} refused"
        )
    if report.refused:
        raise typer.Exit(int(ExitCode.FINDINGS))


@app.command()
def event(
    ctx: typer.Context,
    kind: Annotated[
        str,
        typer.Argument(
            metavar="TYPE", show_default=False, help=f"One of: {', '.join(incoming.EVENT_TYPES)}."
        ),
    ],
    contact: ContactOption,
    sequence: Annotated[
        str | None,
        typer.Option(
            "--sequence",
            show_default=False,
            help="Apply the rules to this sequence only (default: every sequence the contact "
            "is in; unsubscribes and bounces always apply to all).",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", show_default=False, help="When it happened, ISO 8601 (default: now)."),
    ] = None,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data",
            show_default=False,
            help="Details NAME=VALUE: kind=hard|soft (bounce), return_date=YYYY-MM-DD "
            "(out_of_office), channel=sms|whatsapp|email (inbound, unsubscribe), text=STOP "
            "(inbound: a STOP word alone is an opt-out).",
        ),
    ] = None,
    event_id: Annotated[
        str | None,
        typer.Option(
            "--id", show_default=False, help="The event's id: the same id twice is recorded once."
        ),
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record one event and apply the playbook's rules (a reply ends the sequence, ...).

    Example: seqctl event reply --contact ana@example.com
    """
    fields: dict[str, object] = {
        "type": kind,
        "contact": contact,
        "sequence": sequence,
        "at": at,
        "id": event_id,
        "data": parse_pairs(data or [], "--data"),
    }
    now = context.now(ctx)
    parsed = incoming.parse_event(fields, now=now)
    who = viewer(ctx, as_user)
    _report(incoming.record(context.store(ctx), [("event", parsed)], now=now, viewer=who), as_json)


@events_app.command("import")
def import_events(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(help="A JSON Lines file of events, or - for stdin.", show_default=False)
    ],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record events from JSON Lines: {"type", "contact", "at"?, "sequence"?, "id"?, "data"?}.

    Bad lines are reported by number; the rest go in. Example: seqctl events import replies.jsonl
    """
    now = context.now(ctx)
    store = context.store(ctx)
    with open_source(file) as handle:
        events = incoming.read_events(handle, name=file, now=now)
        report = incoming.record(store, events, now=now, viewer=viewer(ctx, as_user))
    _report(report, as_json)


ReasonOption = Annotated[str, typer.Option("--reason", help="Why (shown by suppressions).")]


def _values(values: list[str] | None, file: Path | None, what: str) -> list[str]:
    items = list(values or [])
    if file is not None:
        with open_source(str(file)) as handle:
            lines = [line.split(",")[0].strip().strip('"') for line in _usable(handle, file)]
        if lines and lines[0].lower() in ("value", "email", "address", "phone", "domain", "key"):
            lines = lines[1:]
        items.extend(lines)
    if not items:
        raise InputError(f"name values to {what}, or --file FILE")
    return items


@app.command()
def suppress(
    ctx: typer.Context,
    values: Annotated[
        list[str] | None,
        typer.Argument(
            show_default=False,
            help="Email addresses, phone numbers, domains (@acme.test), or contact keys (for "
            "every address of that contact).",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        file_option("A CSV whose first column holds the values (a header row is skipped)."),
    ] = None,
    reason: ReasonOption = "manual",
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Never message these addresses again, from any sequence, whichever contact has them.

    Example: seqctl suppress @competitor.test bob@example.com --reason "asked by legal"
    """
    items = _values(values, file, "suppress")
    change = suppression.suppress(
        context.store(ctx), items, reason=reason, by=who_did(by), now=context.now(ctx)
    )
    if as_json:
        context.emit_json(change.as_json())
        return
    typer.echo(
        f"suppressed {len(change.changed)} new ({len(change.unchanged)} already on the list)"
    )


@app.command()
def unsuppress(
    ctx: typer.Context,
    values: Annotated[
        list[str] | None,
        typer.Argument(
            show_default=False,
            help="Email addresses, phone numbers, domains or contact keys to take off the list.",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        file_option("A CSV whose first column holds the values (a header row is skipped)."),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", show_default=False, help="Why (kept in suppressions --history)."),
    ] = None,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Allow messages to these addresses again (kept in the list's history, with who and why).

    Example: seqctl unsuppress ana@example.com --reason "opted in again on 2026-12-01"
    """
    items = _values(values, file, "unsuppress")
    change = suppression.unsuppress(
        context.store(ctx), items, reason=reason, by=who_did(by), now=context.now(ctx)
    )
    if as_json:
        context.emit_json(change.as_json())
        return
    for value in change.unchanged:
        typer.echo(f"{value}: not on the list", err=True)
    typer.echo(f"unsuppressed {len(change.changed)}")


@app.command()
def suppressions(
    ctx: typer.Context,
    history: Annotated[
        bool,
        typer.Option(
            "--history", help="Every entry added and lifted, with who and why, oldest first."
        ),
    ] = False,
    limit: LimitOption = 0,
    as_json: JsonOption = False,
) -> None:
    """The suppression list: which addresses are never messaged again, why, who, since when.

    Example: seqctl suppressions --json
    """
    store = context.store(ctx)
    if history:
        changes = store.suppression_history()[: limit or None]
        if as_json:
            context.emit_json([{**asdict(c), "at": format_instant(c.at)} for c in changes])
            return
        rows = [[format_instant(c.at), c.change, c.value, c.kind, c.reason, c.by] for c in changes]
        headers = ["at", "change", "value", "kind", "reason", "by"]
        typer.echo(context.table(headers, rows) if rows else "the list was never changed")
        context.more_note(len(rows), limit)
        return
    entries = store.suppressions()[: limit or None]
    if as_json:
        context.emit_json(
            [
                {
                    "value": e.value,
                    "kind": e.kind,
                    "reason": e.reason,
                    "at": format_instant(e.at),
                    "by": e.by,
                }
                for e in entries
            ]
        )
        return
    typer.echo(
        context.table(
            ["value", "kind", "reason", "by", "since"],
            [[e.value, e.kind, e.reason, e.by, format_instant(e.at)] for e in entries],
        )
        if entries
        else "nobody is suppressed"
    )
    context.more_note(len(entries), limit)


def _usable(handle: Iterable[str], file: Path) -> Iterator[str]:
    """The non-blank lines; InputError at the first unusable one (not UTF-8, ...)."""
    checked = Lines(handle)
    for number, line in enumerate(checked, 1):
        if number in checked.problems:
            raise InputError(f"{file}:{number}: {checked.problems[number]}")
        if line.strip():
            yield line


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'s' if count != 1 else ''}"
