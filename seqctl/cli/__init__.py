"""The command line: thin typer commands over the library."""

from __future__ import annotations

from seqctl.cli import (  # noqa: F401  (importing a module registers its commands)
    actions,
    agenda,
    approvals,
    contacts,
    doctor,
    enroll,
    events,
    graph,
    lint,
    publish,
    report,
    reports,
    scaffold,
    sequences,
    serve,
    tick,
)
from seqctl.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
