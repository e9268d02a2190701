"""`seqctl db init`, `db info` and `db copy`: create the database a playbook repository uses,
say which store and schema it has and what is in it, and move it from SQLite to PostgreSQL."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.options import JsonOption
from seqctl.cli.progress import progress
from seqctl.cli.root import app
from seqctl.errors import DatabaseError
from seqctl.store.location import locate

db_app = typer.Typer(
    help=(
        "The database itself: create it, say what it holds, or copy it to PostgreSQL."
        "\n\nExample: seqctl db info"
    ),
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


@db_app.command("copy")
def copy_to_postgres(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(metavar="FROM", help="The SQLite database to copy.", show_default=False)
    ],
    target: Annotated[
        str,
        typer.Argument(
            metavar="TO",
            help="An empty PostgreSQL database: postgresql://user@host/database.",
            show_default=False,
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Copy a whole SQLite database into an empty PostgreSQL database, ids and all.

    Everything but the tick's lease is copied in one transaction: if anything fails, TO is left
    empty. The rows of every table are counted on both sides before it commits. Stop the cron
    job first, copy, then point `database` (or SEQCTL_DB) at TO. The password comes from
    PGPASSWORD (or the variable seqctl.yaml's `password_env` names), never from the URL.

    Example: seqctl db copy seqctl.db postgresql://seqctl@db.internal/seqctl
    """
    password_env = context.config(ctx).data.get("password_env")
    start = locate(source)
    end = locate(target, password_env=str(password_env) if password_env else None)
    settings = context.settings(ctx)
    settings.database = end
    try:
        from seqctl.store.postgres.copy import copy_database
    except ImportError:
        raise DatabaseError(
            f"{end}: PostgreSQL needs the psycopg driver: pip install 'seqctl[postgres]'"
        ) from None
    began = time.monotonic()
    with progress("copying rows") as rows:
        copied = copy_database(start, end, rows.add)
    seconds = time.monotonic() - began
    total = sum(copied.values())
    if as_json:
        context.emit_json(
            {"from": str(start), "to": str(end), "tables": copied, "rows": total, "checked": True}
        )
        return
    for table, count in copied.items():
        typer.echo(f"{table}: {count:,}")
    typer.echo(
        f"copied {total:,} rows in {seconds:.1f}s from {start} to {end}; "
        "every table's count matches"
    )
