"""`seqctl event`, `events import`, `suppress`, `suppressions`: what happened to contacts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.options import ContactOption, JsonOption, LimitOption, file_option, parse_pairs
from seqctl.cli.root import app
from seqctl.engine import events as incoming
from seqctl.engine.contacts import Lines, open_source
from seqctl.errors import ExitCode, InputError

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
            "(out_of_office), channel=whatsapp (inbound).",
        ),
    ] = None,
    event_id: Annotated[
        str | None,
        typer.Option(
            "--id", show_default=False, help="The event's id: the same id twice is recorded once."
        ),
    ] = None,
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
    _report(incoming.record(context.store(ctx), [("event", parsed)], now=now), as_json)


@events_app.command("import")
def import_events(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(help="A JSON Lines file of events, or - for stdin.", show_default=False)
    ],
    as_json: JsonOption = False,
) -> None:
    """Record events from JSON Lines: {"type", "contact", "at"?, "sequence"?, "id"?, "data"?}.

    Bad lines are reported by number; the rest go in. Example: seqctl events import replies.jsonl
    """
    now = context.now(ctx)
    store = context.store(ctx)
    with open_source(file) as handle:
        report = incoming.record(store, incoming.read_events(handle, name=file, now=now), now=now)
    _report(report, as_json)


@app.command()
def suppress(
    ctx: typer.Context,
    values: Annotated[
        list[str] | None,
        typer.Argument(
            show_default=False,
            help="Addresses, phone numbers, domains (@acme.test) or contact keys.",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        file_option("A CSV whose first column holds the values (a header row is skipped)."),
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (shown by suppressions).")
    ] = "manual",
) -> None:
    """Never message these again, from any sequence.

    Example: seqctl suppress @competitor.test bob@example.com --reason "asked by legal"
    """
    items = list(values or [])
    if file is not None:
        with open_source(str(file)) as handle:
            lines = [line.split(",")[0].strip().strip('"') for line in _usable(handle, file)]
        if lines and lines[0].lower() in ("value", "email", "address", "domain", "key"):
            lines = lines[1:]
        items.extend(lines)
    if not items:
        raise InputError("name values to suppress, or --file FILE")
    added = incoming.suppress(context.store(ctx), items, reason=reason, now=context.now(ctx))
    typer.echo(f"suppressed {added} new ({len(items) - added} already on the list)")


@app.command()
def suppressions(ctx: typer.Context, limit: LimitOption = 0, as_json: JsonOption = False) -> None:
    """The suppression list: who is never messaged again, and why.

    Example: seqctl suppressions --json
    """
    rows = context.store(ctx).suppressions()[: limit or None]
    if as_json:
        context.emit_json([{"value": v, "kind": k, "reason": r, "at": a} for v, k, r, a in rows])
        return
    typer.echo(
        context.table(["value", "kind", "reason", "since"], [list(r) for r in rows])
        if rows
        else "nobody is suppressed"
    )
    context.more_note(len(rows), limit)


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
