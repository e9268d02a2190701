"""`seqctl publish` and `seqctl diff`: versions from playbooks."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from seqctl.cli import context
from seqctl.cli.lint import PathsArgument, default_paths
from seqctl.cli.options import ByOption, JsonOption, who_did
from seqctl.cli.root import app
from seqctl.engine.sequences import archive, publishing
from seqctl.playbook.report import text
from seqctl.store import Store


@app.command()
def publish(
    ctx: typer.Context,
    paths: PathsArgument = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be published; write nothing.")
    ] = False,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Lint, then store a new immutable version of every playbook that changed.

    Nothing is published when any file has an error.

    Example: seqctl publish playbooks/ --by ana@acme.test
    """
    store = context.store(ctx)
    try:
        planned = publishing.publish(
            store,
            default_paths(ctx, paths),
            by=who_did(by),
            now=context.now(ctx),
            dry_run=dry_run,
        )
    except publishing.LintFailed as exc:
        typer.echo(text(exc.result), err=True)
        raise
    retired = {p.sequence.id for p in planned if publishing.archived(store, p.sequence.id)}
    missing = archive.gone(store, default_paths(ctx, paths), [p.sequence.id for p in planned])
    if as_json:
        items = [
            {**p.as_json(), "changed": False, "archived": True}
            if p.sequence.id in retired
            else p.as_json()
            for p in planned
        ]
        context.emit_json(items + [_gone_json(store, g) for g in missing])
        return
    verb = "would publish" if dry_run else "published"
    for item in planned:
        if item.sequence.id in retired:
            typer.echo(
                f"{item.sequence.id}: archived, not published "
                f"(seqctl unarchive {item.sequence.id} to publish it again)"
            )
        elif item.changed:
            typer.echo(
                f"{item.sequence.id}: {verb} version {item.version} ({item.sequence.digest[:12]})"
            )
        else:
            typer.echo(f"{item.sequence.id}: unchanged (version {item.version})")
    for gone in missing:
        typer.echo(str(gone))


def _gone_json(store: Store, gone: archive.Gone) -> dict[str, object]:
    newest = store.version(gone.sequence)
    number = newest.number if newest is not None else None
    return {"sequence": gone.sequence, "version": number, "changed": False, "gone": True,
            "source": gone.source}  # fmt: skip


class DiffFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@app.command()
def diff(
    ctx: typer.Context,
    paths: PathsArgument = None,
    fmt: Annotated[
        DiffFormat,
        typer.Option("--format", "-f", help="text (for people and pull requests) or json."),
    ] = DiffFormat.TEXT,
    as_json: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
) -> None:
    """Show what publishing the playbooks would change: every changed field, old and new value.

    Example: seqctl diff playbooks/welcome.yaml --format json
    """
    store = context.store(ctx)
    try:
        _, planned = publishing.plan(store, default_paths(ctx, paths), now=context.now(ctx))
    except publishing.LintFailed as exc:
        typer.echo(text(exc.result), err=True)
        raise
    missing = archive.gone(store, default_paths(ctx, paths), [p.sequence.id for p in planned])
    if as_json or fmt is DiffFormat.JSON:
        context.emit_json([p.as_json() for p in planned] + [_gone_json(store, g) for g in missing])
        return
    for item in planned:
        if not item.changed:
            typer.echo(f"{item.sequence.id}: unchanged (version {item.version})")
            continue
        before = f"version {item.current.number}" if item.current else "nothing published"
        typer.echo(f"{item.sequence.id}: {before} -> version {item.version}")
        for change in item.changes:
            for line in change.lines():
                typer.echo(f"  {line}".rstrip())
    for gone in missing:
        typer.echo(str(gone))
