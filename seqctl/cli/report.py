"""`seqctl report`: how the sequences are doing, as one HTML file to open or mail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.options import AsOption, OwnerOption, viewer
from seqctl.cli.root import app
from seqctl.engine.views.report import build_report
from seqctl.errors import InputError
from seqctl.timeutil import parse_instant


@app.command()
def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            show_default=False,
            help="Start of the period (ISO 8601; default: 30 days before --until).",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", show_default=False, help="End of the period, excluded (default: now)."
        ),
    ] = None,
    owner: OwnerOption = None,
    as_user: AsOption = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            show_default=False,
            help="Show days and times in this IANA zone (default: the sequences' own).",
        ),
    ] = None,
) -> None:
    """A manager's report: totals, sends and replies per day, each sequence's funnel, A/B tests
    and failures, and the actions due, as one HTML file.

    The numbers are those of `seqctl status --since --until --json`. The page needs no
    network: styles and charts are inline, and it reads on a laptop and on a phone.
    Example: seqctl report --since 2026-11-01 --owner ana@acme.test --out november.html
    """
    page = build_report(
        context.store(ctx),
        now=context.now(ctx),
        since=parse_instant(since, what="--since") if since else None,
        until=parse_instant(until, what="--until") if until else None,
        owner=owner,
        viewer=viewer(ctx, as_user),
        timezone=timezone,
    )
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"wrote {out}")
