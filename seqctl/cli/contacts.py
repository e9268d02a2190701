"""`seqctl contacts import|show|list`: people to enroll, upserted by key."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from seqctl.cli import context
from seqctl.cli.options import JsonOption
from seqctl.cli.progress import progress
from seqctl.cli.root import app
from seqctl.engine import contacts
from seqctl.engine.enrollments import autoenroll
from seqctl.errors import ExitCode

contacts_app = typer.Typer(
    help=(
        "Contacts: import them from CSV or JSON Lines, show and list them.\n\n"
        "Example: seqctl contacts import leads.csv"
    ),
    no_args_is_help=True,
)
app.add_typer(contacts_app, name="contacts")

SHOWN_ATTRIBUTES = 3


@contacts_app.command("import")
def import_contacts(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            help="A .csv, .jsonl or .ndjson file, or - for standard input.", show_default=False
        ),
    ],
    file_format: Annotated[
        contacts.Format | None,
        typer.Option(
            "--format",
            case_sensitive=False,
            show_default=False,
            help="Read the file as csv or jsonl (default: by its suffix; sniffed for -).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Upsert contacts by key: the `key` column or field, else the email.

    `email`, `phone` and `timezone` are routing fields; every other column or field is an
    attribute, reachable in templates as contact.<name>. Empty cells are skipped. Bad rows are
    reported by line number and reason while the good rows go in; exit 1 when any was refused.

    Example: seqctl contacts import leads.csv
    """
    name = contacts.STDIN_NAME if file == "-" else file
    stdin = typer.get_binary_stream("stdin") if file == "-" else None
    with contacts.open_source(file, stdin) as source:
        rows = contacts.read_contacts(
            source, name=name, kind=file_format or contacts.format_of(file)
        )
        with progress("importing") as rows_read:
            report = autoenroll.import_and_enroll(
                context.store(ctx),
                rows,
                now=context.now(ctx),
                progress=rows_read.show,
                default_sequence=context.config(ctx).data.get("default_sequence"),
            )
    if as_json:
        context.emit_json(report.as_json())
    else:
        for refusal in report.refused:
            typer.echo(f"{name}:{refusal.row}: {refusal.reason}", err=True)
        summary = (
            f"imported {_count(report.imported, 'contact')} "
            f"({report.created:,} new, {report.updated:,} updated"
            + (f", {report.unchanged:,} unchanged)" if report.unchanged else ")")
        )
        if report.refused:
            summary += f"; {_count(len(report.refused), 'row')} refused"
        typer.echo(summary)
        for sequence, count in report.enrolled.items():
            typer.echo(f"enrolled {count:,} automatically in {sequence}")
    if report.refused:
        raise typer.Exit(int(ExitCode.FINDINGS))


@contacts_app.command("show")
def show_contact(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The contact's key.", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """One contact: routing fields, attributes, when it was created and last updated.

    Example: seqctl contacts show maria-santos --json
    """
    shown = contacts.details(contacts.contact(context.store(ctx), key))
    if as_json:
        context.emit_json(shown)
        return
    attributes: dict[str, Any] = shown.pop("attributes")
    for line in _aligned(shown):
        typer.echo(line)
    typer.echo("attributes:" if attributes else "attributes: none")
    for line in _aligned(attributes):
        typer.echo(f"  {line}")


@contacts_app.command("list")
def list_contacts(
    ctx: typer.Context,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=0, help="Show at most this many contacts (0: all)."),
    ] = 100,
    as_json: JsonOption = False,
) -> None:
    """Contacts by key, with their routing fields and attribute names.

    Example: seqctl contacts list --limit 20
    """
    store = context.store(ctx)
    records = store.contacts(limit=limit or None)
    if as_json:
        context.emit_json([contacts.details(r) for r in records])
        return
    if not records:
        typer.echo("no contacts yet (seqctl contacts import FILE)")
        return
    rows = [[r.key, r.email, r.phone, r.timezone, _names(r.attributes)] for r in records]
    typer.echo(context.table(["key", "email", "phone", "timezone", "attributes"], rows))
    total = store.count_contacts()
    if total > len(records):
        typer.echo(f"showing {len(records):,} of {total:,} contacts (--limit 0 shows all)")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _names(attributes: dict[str, Any]) -> str:
    names = list(attributes)
    more = len(names) - SHOWN_ATTRIBUTES
    return ", ".join(names[:SHOWN_ATTRIBUTES]) + (f", +{more}" if more > 0 else "")


def _aligned(fields: dict[str, Any]) -> list[str]:
    width = max((len(f) for f in fields), default=0) + 1
    return [f"{(field + ':').ljust(width)}  {_value(value)}" for field, value in fields.items()]


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
