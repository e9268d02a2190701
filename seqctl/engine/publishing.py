"""Publish playbooks as immutable, numbered versions; say what a publish would change."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from seqctl.errors import Failed, InputError
from seqctl.playbook.files import sources_for
from seqctl.playbook.lint import LintResult, lint_paths
from seqctl.playbook.model import MAX_ATTACHMENT_BYTES, SequenceDef
from seqctl.store import Store, VersionRecord
from seqctl.timeutil import format_instant


@dataclass(frozen=True)
class Change:
    """One difference between the published version and the file: `+`, `-` or `~`."""

    kind: str
    what: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.what}" + (f": {self.detail}" if self.detail else "")


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
        }


class LintFailed(Failed):
    """Publishing refused: the files have errors. Carries the lint result to show them."""

    def __init__(self, result: LintResult) -> None:
        count = len(result.errors)
        super().__init__(
            f"nothing published: {count} error{'s' if count != 1 else ''} in the playbooks"
        )
        self.result = result


def plan(store: Store, paths: Sequence[Path]) -> tuple[LintResult, list[Planned]]:
    """Lint, then compare each playbook with its newest published version."""
    result = lint_paths(paths)
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
    _, planned = plan(store, paths)
    if dry_run:
        return planned
    at = format_instant(now)
    assert at is not None
    with store.transaction():
        for item in planned:
            if not item.changed or archived(store, item.sequence.id):
                continue  # an archived sequence is not published again until unarchived
            if item.current is None and store.sequence(item.sequence.id) is None:
                store.create_sequence(item.sequence.id, at)
            _store_attachments(store, item)
            store.add_version(
                VersionRecord(
                    sequence=item.sequence.id,
                    number=item.version,
                    digest=item.sequence.digest,
                    definition_json=json.dumps(item.sequence.definition, sort_keys=True),
                    source=item.source,
                    published_at=at,
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


def diff_definitions(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[Change]:
    """Step-by-step differences between two normalised definitions."""
    if old is None:
        steps = ", ".join(s["id"] for s in new["steps"])
        return [Change("+", "sequence", f"new, {len(new['steps'])} steps ({steps})")]
    changes = [
        Change("~", key, f"{_short(old.get(key))} -> {_short(new.get(key))}")
        for key in sorted(set(old) | set(new))
        if key != "steps" and old.get(key) != new.get(key)
    ]
    old_steps = {s["id"]: s for s in old["steps"]}
    new_steps = {s["id"]: s for s in new["steps"]}
    for position, step in enumerate(new["steps"], start=1):
        before = old_steps.get(step["id"])
        if before is None:
            changes.append(
                Change("+", f"step '{step['id']}'", f"{step['type']}, position {position}")
            )
            continue
        fields = sorted(k for k in set(before) | set(step) if before.get(k) != step.get(k))
        if fields:
            changes.append(Change("~", f"step '{step['id']}'", ", ".join(fields) + " changed"))
    for step_id, step in old_steps.items():
        if step_id not in new_steps:
            changes.append(Change("-", f"step '{step_id}'", step["type"]))
    old_order = [s for s in old_steps if s in new_steps]
    new_order = [s for s in new_steps if s in old_steps]
    if old_order != new_order:
        changes.append(
            Change("~", "step order", f"{', '.join(old_order)} -> {', '.join(new_order)}")
        )
    return changes


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if value is not None else "(none)"
    return text if len(text) <= 60 else text[:57] + "..."
