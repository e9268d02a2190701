"""`seqctl doctor`: why a contact is (not) getting a sequence's next step."""

from __future__ import annotations

import os

import typer

from seqctl.cli import context
from seqctl.cli.options import AsOption, ContactOption, JsonOption, SequenceArgument, viewer
from seqctl.cli.root import app
from seqctl.engine.views import doctor as doctoring
from seqctl.errors import ExitCode


@app.command()
def doctor(
    ctx: typer.Context,
    sequence: SequenceArgument,
    contact: ContactOption,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check, in order, why a contact is or is not getting a sequence's next step.

    The first failing check is the answer; exit 1 when one failed.
    Example: seqctl doctor welcome-series --contact ana@example.com
    """
    checks = doctoring.diagnose(
        context.store(ctx), sequence, contact, now=context.now(ctx), viewer=viewer(ctx, as_user)
    )
    if as_json:
        context.emit_json([{"check": c.name, "ok": c.ok, "detail": c.detail} for c in checks])
    else:
        colour = context.is_terminal() and not os.environ.get("NO_COLOR")
        first = next((c for c in checks if not c.ok), None)
        for check in checks:
            line = f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}"
            if colour and check is first:
                line = typer.style(line, fg=typer.colors.RED, bold=True)
            typer.echo(line)
    if not all(c.ok for c in checks):
        raise typer.Exit(int(ExitCode.FINDINGS))
