"""`seqctl status`, `timeline`, `preview`, `migrate`: what is happening, and what would."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from seqctl.cli import context
from seqctl.cli.options import ContactOption, JsonOption, SequenceArgument
from seqctl.cli.root import app
from seqctl.engine import migrate as migration
from seqctl.engine import preview as previewing
from seqctl.engine import reports
from seqctl.engine.publishing import LintFailed
from seqctl.errors import NotFound
from seqctl.playbook.report import text as lint_report
from seqctl.timeutil import parse_instant

# The columns of `status`, in funnel order.
FUNNEL_COLUMNS = ["step", "type", "reached", "sent", "opened", "clicked", "replied", "bounced"]
FUNNEL_COLUMNS += ["done", "skipped", "rejected", "failed", "pending"]


@app.command()
def status(
    ctx: typer.Context,
    sequence: Annotated[
        str | None, typer.Argument(help="One sequence (default: all).", show_default=False)
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            show_default=False,
            help="Count only history and events at or after this time (ISO 8601). The "
            "enrollment counts by state and PENDING stay as they are now.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Enrollments by state and, per step, the funnel: reached, sent, opened, replied, done, ...

    Percents: sent of those who reached the step; opened and replied of those sent.

    Example: seqctl status welcome-series --since 2026-11-01 --json
    """
    store = context.store(ctx)
    start = parse_instant(since, what="--since") if since else None
    data = (
        [reports.status(store, sequence, since=start)]
        if sequence
        else reports.all_status(store, since=start)
    )
    if as_json:
        context.emit_json(data[0] if sequence else data)
        return
    for item in data:
        counts = ", ".join(f"{n} {state}" for state, n in item["enrollments"].items() if n)
        typer.echo(
            f"{item['sequence']} ({item['status']}, version {item['version']}): "
            f"{counts or 'nobody enrolled'}"
        )
        typer.echo(context.table(FUNNEL_COLUMNS, [_funnel_row(s) for s in item["steps"]]))


MESSAGE_STEP_TYPES = ("email", "sms", "whatsapp", "telegram", "webhook")


def _funnel_row(step: dict[str, Any]) -> list[Any]:
    """One step's funnel; sent as a percent of reached, opened and replied of sent."""
    row: list[Any] = [step["id"], step["type"]]
    for column in FUNNEL_COLUMNS[2:]:
        n = step[column]
        whole = step["reached"] if column == "sent" else step["sent"]
        # Percents only where they mean something: messages sent of those reached, and what
        # the sent messages got back.
        shown = (
            column in ("sent", "opened", "clicked", "replied", "bounced")
            and whole
            and step["type"] in MESSAGE_STEP_TYPES
        )
        row.append(f"{n} ({step['rates'][column]:.0%})" if shown else n)
    return row


@app.command()
def timeline(
    ctx: typer.Context,
    contact: Annotated[str, typer.Argument(help="The contact key.", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Everything that happened to a contact, in order.

    Example: seqctl timeline ana@example.com
    """
    rows = reports.timeline(context.store(ctx), contact)
    if as_json:
        context.emit_json(rows)
        return
    for r in rows:
        step = f" {r['step']}" if r["step"] else ""
        detail = f": {r['detail']}" if r["detail"] else ""
        typer.echo(f"{r['at']}  {r['sequence']}{step}  {r['kind']}{detail}")
    if not rows:
        typer.echo(f"nothing has happened to {contact} yet")


@app.command()
def preview(
    ctx: typer.Context,
    playbook: Annotated[
        str, typer.Argument(help="A playbook file, or a published sequence id.", show_default=False)
    ],
    contact: ContactOption,
    start: Annotated[
        str | None,
        typer.Option(
            "--start", show_default=False, help="When the contact is enrolled (default: now)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The schedule and messages a contact would get, if every step were done when due.

    Nothing is written. Example: seqctl preview playbooks/welcome.yaml --contact ana@example.com
    """
    store = context.store(ctx)
    record = store.contact(contact)
    if record is None:
        raise NotFound(f"no contact '{contact}' (seqctl contacts import adds contacts)")
    try:
        version = previewing.load_for_preview(store, playbook)
    except LintFailed as exc:
        typer.echo(lint_report(exc.result), err=True)
        raise
    when = parse_instant(start, what="--start") if start else context.now(ctx)
    plan = previewing.preview(version, record.fields(), start=when)
    if as_json:
        context.emit_json(plan)
        return
    for entry in plan:
        typer.echo(f"{entry['due_at']}  {entry['step']} ({entry['type']}, {entry['mode']})")
        if entry.get("error"):
            typer.echo(f"  ! {entry['error']}")
        if entry.get("subject"):
            typer.echo(f"  Subject: {entry['subject']}")
        for line in (entry.get("body") or entry.get("instructions") or "").splitlines():
            typer.echo(f"  | {line}")


@app.command()
def migrate(
    ctx: typer.Context,
    sequence: SequenceArgument,
    to: Annotated[int, typer.Option("--to", help="The version to move running enrollments to.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Also move those whose current step is gone (to the next step that exists).",
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would move.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Move running enrollments to another version, keeping their step by id.

    Example: seqctl migrate welcome-series --to 2
    """
    report = migration.migrate(
        context.store(ctx), sequence, to, now=context.now(ctx), force=force, dry_run=dry_run
    )
    if as_json:
        context.emit_json(report.as_json())
        return
    typer.echo(
        f"{'would move' if dry_run else 'moved'} {report.moved} to version {to} "
        f"({report.forced} forced), "
        f"{report.unchanged} already there, {len(report.stranded)} left alone"
    )
    for item in report.stranded:
        typer.echo(
            f"  {item['contact']}: step '{item['step']}' of version {item['version']} "
            f"is not in version {to} (use --force to move on)"
        )
