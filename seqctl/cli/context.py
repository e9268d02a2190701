"""What every command needs: configuration, the database, the clock. Built once per run."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from seqctl.config import Config, load_config
from seqctl.errors import SeqctlError
from seqctl.store import Store, database_fault, open_store
from seqctl.timeutil import parse_instant, utcnow


@dataclass
class Settings:
    db: Path | None = None
    now: str | None = None
    config: Path | None = None
    database: Path | None = None  # the database this run opened: errors name it


def settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings()
    return root.obj


def config(ctx: typer.Context, explicit: Path | None = None) -> Config:
    return load_config(explicit or settings(ctx).config)


def database_path(ctx: typer.Context, db: Path | None = None) -> Path:
    chosen = db or settings(ctx).db
    return chosen if chosen is not None else config(ctx).database()


def store(ctx: typer.Context, db: Path | None = None) -> Store:
    """Open the database chosen by --db, SEQCTL_DB, seqctl.yaml, or ./seqctl.db."""
    path = settings(ctx).database = database_path(ctx, db)
    opened = open_store(path)
    ctx.call_on_close(opened.close)
    return opened


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
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """Columns aligned for a terminal; empty cells as '-'."""
    cells = [[("-" if v is None or v == "" else str(v)) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def print_records(
    records: list[dict[str, Any]], columns: list[tuple[str, str]], *, empty: str
) -> None:
    """Print records (the dicts `--json` would print) as a table of (header, key) columns."""
    if not records:
        typer.echo(empty)
        return
    rows = [[record.get(key) for _, key in columns] for record in records]
    typer.echo(table([header for header, _ in columns], rows))


def is_terminal() -> bool:
    return sys.stdout.isatty()
