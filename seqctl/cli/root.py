"""The typer application, its global options and the one error handler."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from seqctl import __version__
from seqctl.cli import context
from seqctl.cli.context import Settings
from seqctl.errors import ExitCode, SeqctlError

if TYPE_CHECKING:  # typer ships its own click; annotate with the class it expects
    from typer._click.core import Context


class SeqctlGroup(TyperGroup):
    """Turns a SeqctlError into its message and exit code: no traceback for a user's mistake.

    The top level lists its commands in the groups of `seqctl.cli.GROUPS`.
    """

    def format_commands(self, ctx: Context, formatter: Any) -> None:
        if ctx.parent is not None:
            super().format_commands(ctx, formatter)
            return
        from seqctl.cli import GROUPS

        listed = {
            name: command
            for name in self.list_commands(ctx)
            if (command := self.get_command(ctx, name)) is not None and not command.hidden
        }
        longest = max(map(len, listed), default=0)
        width = formatter.width - 6 - longest
        sections = [*GROUPS.items(), ("Other", tuple(n for n in listed if not _grouped(n)))]
        for title, names in sections:  # names padded: one column across the sections
            rows = [
                (n.ljust(longest), listed[n].get_short_help_str(width))
                for n in names
                if n in listed
            ]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except SeqctlError as exc:
            _fail(exc, ctx.obj)
        except KeyboardInterrupt:
            typer.echo("seqctl: interrupted", err=True)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as exc:
            # A locked, read-only or full database met outside a transaction (a read).
            fault = context.fault(ctx.obj, exc)
            if fault is None:
                raise  # a bug: its traceback helps
            _fail(fault, ctx.obj)


def _fail(exc: SeqctlError, settings: object) -> NoReturn:
    """Say what went wrong (a JSON line under --log-format json) and exit with its code."""
    if isinstance(settings, Settings) and settings.log_json:
        from seqctl.cli.logs import json_line

        typer.echo(json_line("error", str(exc), level="error"), err=True)
        raise typer.Exit(int(exc.exit_code)) from None
    for line in str(exc).splitlines() or ["error"]:
        typer.echo(f"seqctl: {line}" if not _located(line) else line, err=True)
    raise typer.Exit(int(exc.exit_code)) from None


def _grouped(name: str) -> bool:
    from seqctl.cli import GROUPS

    return any(name in names for names in GROUPS.values())


def _located(line: str) -> bool:
    """Lines already of the form path:line:col: ... are printed as they are."""
    head = line.split(": ", 1)[0]
    parts = head.rsplit(":", 2)
    return len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit()  # not a URL's colons


app = typer.Typer(
    name="seqctl",
    cls=SeqctlGroup,
    help=(
        "Sales and follow-up sequences as code: lint, publish, enroll, tick.\n\n"
        "Example: seqctl init demo && cd demo && seqctl lint && seqctl publish"
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seqctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="SEQCTL_DB",
            show_default=False,
            help=(
                "Database: an SQLite file or a postgresql:// URL (default: seqctl.yaml's "
                "`database`, else ./seqctl.db)."
            ),
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            envvar="SEQCTL_NOW",
            show_default=False,
            help="Act as if it were this ISO 8601 time: replay and test schedules.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="SEQCTL_CONFIG",
            show_default=False,
            help="Configuration file (default: ./seqctl.yaml when present).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Sales and follow-up sequences as code.

    Exit codes: 0 ok, 1 the checked thing is bad (lint findings, refused rows, failed sends),
    2 usage or input error, 130 interrupted.
    """
    ctx.obj = Settings(db=db, now=now, config=config)
