"""`seqctl archive` and `unarchive`: retire a sequence, keeping its history and versions."""

from __future__ import annotations

import typer

from seqctl.cli import context
from seqctl.cli.options import AsOption, ByOption, SequenceArgument, viewer, who_did
from seqctl.cli.root import app
from seqctl.engine.sequences import archive as archiving


@app.command()
def archive(
    ctx: typer.Context,
    sequence: SequenceArgument,
    by: ByOption = None,
    as_user: AsOption = None,
) -> None:
    """Retire a sequence: running enrollments exit ('archived'), it takes no new ones, and it
    leaves the lists (sequences list --archived shows it). History and versions are kept.

    Example: seqctl archive welcome-series
    """
    ended = archiving.archive(
        context.store(ctx),
        sequence,
        now=context.now(ctx),
        by=who_did(by),
        viewer=viewer(ctx, as_user),
    )
    typer.echo(f"{sequence}: archived; {ended} running enrollment{'s' if ended != 1 else ''} ended")


@app.command()
def unarchive(ctx: typer.Context, sequence: SequenceArgument, as_user: AsOption = None) -> None:
    """Bring an archived sequence back as a draft (activate it to run it again).

    Example: seqctl unarchive welcome-series
    """
    archiving.unarchive(
        context.store(ctx), sequence, now=context.now(ctx), viewer=viewer(ctx, as_user)
    )
    typer.echo(f"{sequence}: unarchived, now a draft (seqctl activate {sequence} to run it)")
