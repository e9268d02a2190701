"""Move running enrollments to another version of their sequence, mapping steps by id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from seqctl.engine.run.runtime import Versions
from seqctl.engine.sequences.catalog import require_visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.errors import NotFound
from seqctl.store import Store
from seqctl.store.records import NewHistory


@dataclass
class MigrateReport:
    version: int
    moved: int = 0
    unchanged: int = 0
    stranded: list[dict[str, Any]] = field(default_factory=list)  # current step is gone
    forced: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "moved": self.moved,
            "unchanged": self.unchanged,
            "forced": self.forced,
            "stranded": self.stranded,
        }


class _Move(NamedTuple):
    """An enrollment moving from its version to the step at index `step` of the new one."""

    enrollment: int
    step: int
    old_version: int
    step_id: str


def migrate(
    store: Store,
    sequence: str,
    to: int,
    *,
    now: datetime,
    force: bool = False,
    dry_run: bool = False,
    viewer: Viewer | None = None,
) -> MigrateReport:
    """Each running enrollment keeps its current step (by id) in version `to`.

    Those whose step does not exist there are listed and left alone; with force they move to the
    first later step that does exist (or complete when none does).
    """
    require_visible(store, sequence, viewer)
    versions = Versions(store)
    if store.version(sequence, to) is None:
        raise NotFound(f"sequence '{sequence}' has no version {to}")
    target = versions.get(sequence, to)
    report = MigrateReport(to)
    moves: list[_Move] = []
    for enrollment in store.enrollments(sequence=sequence, live=True):
        if enrollment.version == to:
            report.unchanged += 1
            continue
        old_steps = versions.get(sequence, enrollment.version).steps
        step_id = old_steps[enrollment.step].id if enrollment.step < len(old_steps) else None
        index = target.model.index(step_id) if step_id else None
        if index is None:
            later = [s.id for s in old_steps[enrollment.step + 1 :]]
            index = next(
                (i for i in (target.model.index(s) for s in later) if i is not None),
                len(target.steps),
            )
            if not force:
                report.stranded.append(
                    {"contact": enrollment.contact, "step": step_id, "version": enrollment.version}
                )
                continue
            report.forced += 1
        report.moved += 1
        moves.append(_Move(enrollment.id, index, enrollment.version, step_id or ""))
    if dry_run:
        return report
    with store.transaction():
        for move in moves:
            store.set_version(move.enrollment, to, move.step, now)
            detail = f"version {move.old_version} -> {to}"
            store.add_history(
                [NewHistory(move.enrollment, now, "migrated", step=move.step_id, detail=detail)]
            )
    return report
