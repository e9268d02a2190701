"""`seqctl db init`: create (or bring up to date) the database a playbook repository uses."""

from __future__ import annotations

import typer

from seqctl.cli import context
from seqctl.cli.root import app

db_app = typer.Typer(
    help="The database itself: create it.\n\nExample: seqctl db init",
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
    existed = path.exists()
    context.store(ctx, create=True)
    typer.echo(f"{'database is ready' if existed else 'created'}: {path}")
