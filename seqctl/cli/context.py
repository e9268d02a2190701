"""What every command needs: configuration, the database, the clock. Built once per run."""

from __future__ import annotations

import json
import sys
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from seqctl.config import Config, load_config
from seqctl.engine.messages import composers
from seqctl.errors import InputError, SeqctlError
from seqctl.store import Store, database_fault, open_store
from seqctl.store.location import Location, is_url, locate
from seqctl.timeutil import format_instant, parse_instant, utcnow


@dataclass
class Settings:
    db: str | None = None  # --db or SEQCTL_DB: a file or a postgresql:// URL
    now: str | None = None
    config: Path | None = None
    log_json: bool = False  # --log-format json: errors too are printed as JSON lines
    database: Location | None = None  # the database this run opened: errors name it


def settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings()
    return root.obj


def config(ctx: typer.Context, explicit: Path | None = None) -> Config:
    found = load_config(explicit or settings(ctx).config)
    # The programs playbooks may compose with: seqctl.yaml's, never a playbook's own.
    composers.configure(found.data.get("composers"))
    return found


def database_path(ctx: typer.Context, db: Location | None = None) -> Location:
    """The database chosen by --db, SEQCTL_DB, seqctl.yaml, or ./seqctl.db."""
    if db is not None:
        return db
    given = settings(ctx).db
    if given is None:
        return config(ctx).database()
    password_env = config(ctx).data.get("password_env") if is_url(given) else None
    return locate(given, password_env=str(password_env) if password_env else None)


def store(ctx: typer.Context, db: Location | None = None, *, create: bool = False) -> Store:
    """Open the database chosen by --db, SEQCTL_DB, seqctl.yaml, or ./seqctl.db.

    Only `create` (`seqctl init`, `seqctl db init`) makes a new one: a command run from the
    wrong folder, or a cron job with a mistyped path, must fail loudly, not work on an empty
    database it just made.
    """
    path = database_path(ctx, db) if create else existing_database(ctx, db)
    settings(ctx).database = path
    opened = open_store(path)
    ctx.call_on_close(opened.close)
    return opened


def store_for_file(ctx: typer.Context) -> Store:
    """The database when there is one, else an empty one in memory: for a command given a
    playbook file, which needs nothing stored (`graph playbooks/x.yaml` in a fresh clone)."""
    path = database_path(ctx)
    if isinstance(path, Path) and str(path) != ":memory:" and not path.exists():
        opened = open_store(":memory:")
        ctx.call_on_close(opened.close)
        return opened
    return store(ctx)


def existing_database(ctx: typer.Context, db: Location | None = None) -> Location:
    """The database path, which must exist: else an InputError naming the path looked for
    and how to create one. (A server's database is looked for when it is opened.)"""
    path = database_path(ctx, db)
    if not isinstance(path, Path) or str(path) == ":memory:" or path.exists():
        return path
    shown = path if path.is_absolute() else Path.cwd() / path
    raise InputError(
        f"no database at {shown} ({_chosen_by(ctx, db)}): create one with `seqctl db init` "
        "(or `seqctl init` for a new playbook repository), or point --db or SEQCTL_DB "
        "at an existing one"
    )


def _chosen_by(ctx: typer.Context, db: Location | None) -> str:
    if db is not None or settings(ctx).db is not None:
        return "from --db or SEQCTL_DB"
    found = config(ctx)
    if found.path is not None and "database" in found.data:
        return f"from `database` in {found.path}"
    if found.path is not None:
        return f"the default beside {found.path}"
    return "the default: no seqctl.yaml in this folder"


def fault(obj: object, exc: BaseException) -> SeqctlError | None:
    """What a database error that escaped a command means (None: not one, a bug).

    `obj` is the root context's object: the Settings naming the database opened, if any.
    """
    return database_fault(exc, obj.database if isinstance(obj, Settings) else None)


def now(ctx: typer.Context, value: str | None = None) -> datetime:
    """--now (or SEQCTL_NOW) when given, else the real clock."""
    given = value or settings(ctx).now
    return parse_instant(given, what="--now") if given else utcnow()


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))


def _json_default(value: Any) -> Any:
    """Times as JSON shows them: ISO 8601 in UTC with a Z."""
    if isinstance(value, datetime):
        return format_instant(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """Columns aligned for a terminal, wide (CJK) characters counted as two; empty cells '-'.

    A cell is one line: a line break in a value (a contact's name from a web form) shows as
    a space rather than breaking the table.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    heads = [h.upper() for h in headers]
    widths = [
        max(display_width(h), *(display_width(r[i]) for r in cells)) if cells else len(h)
        for i, h in enumerate(heads)
    ]
    lines = ["  ".join(_pad(h, w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines += ["  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def display_width(text: str) -> int:
    """Columns `text` takes on a terminal: East Asian wide and full-width characters take
    two, combining marks and zero-width characters none."""
    if text.isascii():
        return len(text)
    return sum(_char_width(c) for c in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return format_instant(value)
    return " ".join(str(value).splitlines()) if not isinstance(value, int) else str(value)


def print_records(
    records: list[dict[str, Any]],
    columns: list[tuple[str, str]],
    *,
    empty: str,
    limit: int = 0,
) -> None:
    """Print records (the dicts `--json` would print) as a table of (header, key) columns;
    with a `limit` they reached, say that there may be more."""
    if not records:
        typer.echo(empty)
        return
    rows = [[record.get(key) for _, key in columns] for record in records]
    typer.echo(table([header for header, _ in columns], rows))
    more_note(len(records), limit)


def more_note(shown: int, limit: int) -> None:
    """`--limit N` cut the listing short: one line saying so, after the table."""
    if limit and shown >= limit:
        typer.echo(f"showing the first {shown:,} (--limit {limit}); there may be more")


def is_terminal() -> bool:
    return sys.stdout.isatty()
