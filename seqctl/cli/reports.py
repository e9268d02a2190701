"""`seqctl status`, `timeline`, `preview`, `migrate`: what is happening, and what would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from seqctl.cli import context
from seqctl.cli.options import (
    AsOption,
    ContactOption,
    JsonOption,
    OwnerOption,
    SequenceArgument,
    viewer,
)
from seqctl.cli.root import app
from seqctl.engine.enrollments import migrate as migration
from seqctl.engine.inbox.settings import configured_folders
from seqctl.engine.sequences import catalog
from seqctl.engine.views import preview as previewing
from seqctl.engine.views import reports
from seqctl.errors import NotFound
from seqctl.store import Store
from seqctl.timeutil import format_instant, parse_instant

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
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            show_default=False,
            help="Count only history and events before this time (ISO 8601).",
        ),
    ] = None,
    owner: OwnerOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Enrollments by state and, per step, the funnel: reached, sent, opened, replied, done, ...

    Percents: sent of those who reached the step; opened and replied of those sent. A/B-tested
    steps also compare their variants, and say how sure the difference is.

    Example: seqctl status welcome-series --since 2026-11-01 --json
    """
    store = context.store(ctx)
    start = parse_instant(since, what="--since") if since else None
    end = parse_instant(until, what="--until") if until else None
    now = context.now(ctx)
    among = catalog.admitted(store, viewer(ctx, as_user), owner)
    if sequence:
        catalog.require_visible(store, sequence, viewer(ctx, as_user))
    data = (
        [reports.status(store, sequence, since=start, until=end, now=now)]
        if sequence
        else reports.all_status(store, since=start, until=end, now=now, among=among)
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
        for step in item["steps"]:
            if step.get("variants"):
                _echo_variants(step)
        if item.get("mailbox"):
            typer.echo(f"from the mailbox: {_mailbox_counts(item['mailbox'])}")
    if not sequence:
        config = context.config(ctx)
        # Without a seqctl.yaml (--db from elsewhere) every inbox known is shown.
        for line in _inbox_lines(store, config.data if config.path is not None else None):
            typer.echo(line)


def _inbox_lines(store: Store, config: Mapping[str, Any] | None) -> list[str]:
    """How each inbox folder of seqctl.yaml was last read: folders read once but no longer
    configured are left out (`inbox status` lists every folder ever read)."""
    configured = configured_folders(config)
    lines = []
    for folder in store.inbox_folders():
        if configured is not None and (folder.inbox, folder.folder) not in configured:
            continue
        where = f"inbox {folder.inbox}/{folder.folder}"
        counts = (
            f"{folder.messages:,} messages, {folder.events:,} with events, "
            f"{folder.unmatched:,} matched nobody, {folder.skipped:,} skipped"
        )
        if not folder.error:
            lines.append(f"{where} read at {format_instant(folder.synced_at)}: {counts}")
        else:
            before = f"; read before: {counts}" if folder.messages else ""
            lines.append(
                f"{where} failed at {format_instant(folder.synced_at)}: {folder.error}{before}"
            )
    return lines


_MAILBOX_NAMES = {  # event type: (one, many)
    "reply": ("reply", "replies"),
    "out_of_office": ("out of office", "out of office"),
    "bounce": ("bounce", "bounces"),
    "unsubscribe": ("unsubscribe", "unsubscribes"),
}


def _mailbox_counts(counts: dict[str, int]) -> str:
    """7 replies, 5 out of office, ...: events read from the mailbox, in a fixed order."""
    return ", ".join(
        f"{counts[kind]} {names[counts[kind] != 1]}"
        for kind, names in _MAILBOX_NAMES.items()
        if counts.get(kind)
    )


MESSAGE_STEP_TYPES = ("email", "sms", "whatsapp", "telegram", "webhook")
VARIANT_COLUMNS = ["variant", "share", "sent", "opened", "clicked", "replied", "bounced"]
VARIANT_COLUMNS += ["unsubscribed"]
SAID = {"opened": "opens", "clicked": "clicks", "replied": "replies"}


def _echo_variants(step: dict[str, Any]) -> None:
    """A step's A/B test: each variant's results, then what the difference says."""
    winner = f"; winner: {step['winner']}" if step.get("winner") else ""
    typer.echo(f"{step['id']}: A/B test{winner}")
    rows = []
    for v in step["variants"]:
        cells: list[Any] = [v["id"] + (" (winner)" if v["winner"] else ""), f"{v['share']:.0%}"]
        cells.append(v["sent"])
        for metric in VARIANT_COLUMNS[3:]:
            cells.append(f"{v[metric]} ({v['rates'][metric]:.1%})" if v["sent"] else v[metric])
        rows.append(cells)
    typer.echo(context.table(VARIANT_COLUMNS, rows))
    for metric, said in SAID.items():
        found = step["comparison"].get(metric)
        if found:
            typer.echo(f"  {said}: {found['verdict']}")


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
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Everything that happened to a contact, in order.

    Example: seqctl timeline ana@example.com
    """
    rows = reports.timeline(context.store(ctx), contact, viewer=viewer(ctx, as_user))
    if as_json:
        context.emit_json(rows)
        return
    for r in rows:
        step = f" {r['step']}" if r["step"] else ""
        detail = f": {r['detail']}" if r["detail"] else ""
        typer.echo(f"{r['at']}  {r['sequence'] or '-'}{step}  {r['kind']}{detail}")
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
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """The schedule and messages a contact would get, if every step were done when due.

    Nothing is written. Example: seqctl preview playbooks/welcome.yaml --contact ana@example.com
    """
    store = context.store(ctx)
    record = store.contact(contact)
    if record is None:
        raise NotFound(f"no contact '{contact}' (seqctl contacts import adds contacts)")
    version = previewing.load_for_preview(
        store, playbook, now=context.now(ctx), viewer=viewer(ctx, as_user)
    )
    when = parse_instant(start, what="--start") if start else context.now(ctx)
    plan = previewing.preview_for(store, version, record, start=when, now=context.now(ctx))
    if as_json:
        context.emit_json(plan)
        return
    if plan and plan[0].get("holidays"):
        typer.echo(f"holidays: {plan[0]['holidays']}")
    for entry in plan:
        typer.echo(f"{entry['due_at']}  {entry['step']} ({entry['type']}, {entry['mode']})")
        if entry.get("error"):
            typer.echo(f"  ! {entry['error']}")
        if entry.get("channel_reason"):
            typer.echo(f"  Channel: {entry['channel']} to {entry['to']}: {entry['channel_reason']}")
        if entry.get("whatsapp"):
            typer.echo(f"  WhatsApp: {entry['whatsapp']}")
        if entry.get("variant"):
            typer.echo(f"  Variant: {entry['variant']}")
        if entry.get("variants"):
            typer.echo(f"  Variant: drawn when {contact} is enrolled; one of")
        for variant in entry.get("variants") or []:
            typer.echo(f"  Variant {variant['id']} ({variant['share']:.0%} of enrollments):")
            _echo_message(variant, indent="    ")
        _echo_message(entry, indent="  ")


def _echo_message(entry: dict[str, Any], *, indent: str) -> None:
    if entry.get("subject"):
        typer.echo(f"{indent}Subject: {entry['subject']}")
    for line in (entry.get("body") or entry.get("instructions") or "").splitlines():
        typer.echo(f"{indent}| {line}")


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
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move running enrollments to another version, keeping their step by id.

    Example: seqctl migrate welcome-series --to 2
    """
    report = migration.migrate(
        context.store(ctx),
        sequence,
        to,
        now=context.now(ctx),
        force=force,
        dry_run=dry_run,
        viewer=viewer(ctx, as_user),
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
