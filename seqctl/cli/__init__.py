"""The command line: thin typer commands over the library."""

from __future__ import annotations

from seqctl.cli import lint, publish, scaffold, sequences  # noqa: F401  (registers commands)
from seqctl.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
