"""`seqctl db init` and `db info`: create the database a playbook repository uses, and say
which store and schema it has and what is in it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from seqctl.cli import context
from seqctl.cli.options import JsonOption
from seqctl.cli.root import app

db_app = typer.Typer(
    help="The database itself: create it, or say what it holds.\n\nExample: seqctl db info",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")


@db_app.command("init")
def init_database(ctx: typer.Context) -> None:
    """Create the database (--db, SEQCTL_DB, seqctl.yaml's `database`, else ./seqctl.db).

    Every other command refuses to run without one, so a cron job started in the wrong folder
    fails loudly instead of working on a new empty database. An existing database is migrated
    to this version's schema and otherwise left as it is.

    Example: seqctl db init
    """
    path = context.database_path(ctx)
    existed = not isinstance(path, Path) or path.exists()
    context.store(ctx, create=True)
    typer.echo(f"{'database is ready' if existed else 'created'}: {path}")


@db_app.command("info")
def info(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Which store and schema version the database has, its size and the rows in each table.

    Example: seqctl db info --json
    """
    found = context.store(ctx).info()
    if as_json:
        context.emit_json(asdict(found))
        return
    typer.echo(f"store: {found.store} ({found.location}, {found.size_bytes / 1024 / 1024:.1f} MB)")
    typer.echo(f"schema: {found.schema} ({found.migrations} migrations)")
    for table, count in found.counts.items():
        parts = found.breakdown.get(table) or {}
        detail = ", ".join(f"{n:,} {value}" for value, n in parts.items())
        typer.echo(f"{table}: {count:,}" + (f" ({detail})" if detail else ""))
