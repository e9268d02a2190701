"""Moving an enrollment past a step: the next step's due time, or completion."""

from __future__ import annotations

from datetime import datetime

from seqctl.engine.runtime import RunnableVersion
from seqctl.store.records import Transition
from seqctl.timeutil import format_instant

_last: tuple[datetime | None, str] = (None, "")


def _iso(value: datetime) -> str:
    # A tick moves thousands of enrollments on at the same `now`: format it once.
    global _last
    if _last[0] is not value:
        _last = (value, format_instant(value) or "")
    return _last[1]


def moved_on(
    version: RunnableVersion,
    enrollment: int,
    *,
    next_index: int,
    done_at: datetime,
    enrolled_at: datetime,
    contact_zone: str | None,
    kind: str,
    step_id: str | None,
    detail: str | None = None,
) -> list[Transition]:
    """The step is done at done_at: schedule step next_index, or complete the enrollment."""
    at = _iso(done_at)
    due = version.due(
        next_index, anchor=done_at, enrolled_at=enrolled_at, contact_zone=contact_zone
    )
    if due is None:
        return [
            Transition(enrollment, "active", next_index, at, None, None, at, kind, step_id, detail),
            Transition(enrollment, "completed", next_index, at, None, None, at, "completed", None),
        ]
    return [
        Transition(enrollment, "active", next_index, at, _iso(due), None, at, kind, step_id, detail)
    ]
