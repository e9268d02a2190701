"""`seqctl report`: how every sequence is doing, as one HTML file to open or mail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.root import app
from seqctl.engine.report import build_report
from seqctl.errors import InputError


@app.command()
def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path(
        "report.html"
    ),
) -> None:
    """Funnels, enrollments by state and over time, actions due and failures, as one HTML file.

    The page needs no network: styles and charts are inline.
    Example: seqctl report --out report.html
    """
    page = build_report(context.store(ctx), now=context.now(ctx))
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(f"wrote {out}")
