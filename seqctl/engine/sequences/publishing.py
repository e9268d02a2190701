"""Publish playbooks as immutable, numbered versions; say what a publish would change."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from seqctl.engine.sequences.changes import Change, diff_definitions
from seqctl.errors import Failed, InputError
from seqctl.playbook.files import sources_for
from seqctl.playbook.lint import LintResult, lint_paths
from seqctl.playbook.model import MAX_ATTACHMENT_BYTES, SequenceDef
from seqctl.store import Store, VersionRecord


@dataclass(frozen=True)
class Planned:
    """What publishing one playbook does: its new version number, or that it is unchanged."""

    sequence: SequenceDef
    source: str
    current: VersionRecord | None
    changes: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        return self.current is None or self.current.digest != self.sequence.digest

    @property
    def version(self) -> int:
        if self.current is None:
            return 1
        return self.current.number + 1 if self.changed else self.current.number

    def as_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence.id,
            "version": self.version,
            "changed": self.changed,
            "previous": self.current.number if self.current else None,
            "digest": self.sequence.digest,
            "source": self.source,
            "changes": [str(c) for c in self.changes],
            "details": [c.as_json() for c in self.changes],
        }


class LintFailed(Failed):
    """Publishing refused: the files have errors. Carries the lint result to show them."""

    def __init__(self, result: LintResult) -> None:
        count = len(result.errors)
        super().__init__(
            f"nothing published: {count} error{'s' if count != 1 else ''} in the playbooks"
        )
        self.result = result


def plan(
    store: Store, paths: Sequence[Path], *, now: datetime | None = None
) -> tuple[LintResult, list[Planned]]:
    """Lint (with the run's clock), then compare each playbook with its newest version."""
    result = lint_paths(paths, now=now)
    if result.errors:
        raise LintFailed(result)
    planned = []
    for linted, sequence in result.sequences:
        current = store.version(sequence.id)
        previous = current.definition if current else None
        planned.append(
            Planned(
                sequence,
                linted.display,
                current,
                tuple(diff_definitions(previous, sequence.definition)),
            )
        )
    return result, planned


def publish(
    store: Store, paths: Sequence[Path], *, by: str | None, now: datetime, dry_run: bool = False
) -> list[Planned]:
    """Create a version for each changed playbook, all in one transaction (all or nothing)."""
    _, planned = plan(store, paths, now=now)
    if dry_run:
        return planned
    with store.transaction():
        for item in planned:
            if not item.changed or archived(store, item.sequence.id):
                continue  # an archived sequence is not published again until unarchived
            if item.current is None and store.sequence(item.sequence.id) is None:
                store.create_sequence(item.sequence.id, now)
            _store_attachments(store, item)
            store.add_version(
                VersionRecord(
                    sequence=item.sequence.id,
                    number=item.version,
                    digest=item.sequence.digest,
                    definition_json=json.dumps(item.sequence.definition, sort_keys=True),
                    source=item.source,
                    published_at=now,
                    published_by=by,
                    git_commit=git_commit(Path(item.source)),
                )
            )
    return planned


def archived(store: Store, sequence_id: str) -> bool:
    record = store.sequence(sequence_id)
    return record is not None and record.status == "archived"


def _store_attachments(store: Store, item: Planned) -> None:
    """Copy each attachment into the database: a version sends what was published.

    Looked up again (lint did once), with the same rule: nothing outside the repository is read.
    """
    sources = sources_for(Path(item.source))
    for step in item.sequence.steps:
        variant_files = [a for v in step.variants for a in v.spec.get("attachments") or []]
        for attachment in [*(step.spec.get("attachments") or []), *variant_files]:
            located = sources.attachment(attachment["name"])
            if located.problem is not None:
                raise InputError(f"{item.source}: {located.problem}")
            if located.path is None:
                raise InputError(f"{item.source}: attachment '{attachment['name']}' disappeared")
            with located.path.open("rb") as handle:
                content = handle.read(MAX_ATTACHMENT_BYTES + 1)
            if hashlib.sha256(content).hexdigest() != attachment["sha256"]:
                raise InputError(
                    f"{item.source}: attachment '{attachment['name']}' changed "
                    "while publishing; publish again"
                )
            store.add_attachment(attachment["sha256"], attachment["name"], content)


def git_commit(path: Path) -> str | None:
    """The commit of the work tree holding path, with `+dirty` when the file has local changes."""
    folder = path.resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", path.resolve().name],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = head.stdout.strip()
    return f"{commit}+dirty" if status.stdout.strip() else commit
