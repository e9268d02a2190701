"""The task queue for people: actions made by manual steps, done or skipped."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from seqctl.engine.people.onhold import OnHold
from seqctl.engine.run.advance import finish_step
from seqctl.engine.run.runtime import Versions
from seqctl.engine.sequences.catalog import Audience, visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.errors import NotFound, SeqctlError
from seqctl.store import Store
from seqctl.store.records import ActionRecord
from seqctl.store.states import ActionStatus, EnrollmentState
from seqctl.timeutil import format_instant

OVERDUE_AFTER = timedelta(days=1)


class Timing(StrEnum):
    DUE = "due"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"


@dataclass(frozen=True)
class ActionView:
    """An action as people see it; upcoming ones (not due yet) have no id."""

    id: int | None
    sequence: str
    contact: str
    step: str
    type: str
    due_at: datetime
    status: str
    title: str | None = None
    instructions: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sequence": self.sequence,
            "contact": self.contact,
            "step": self.step,
            "type": self.type,
            "due_at": format_instant(self.due_at),
            "status": self.status,
            "title": self.title,
            "instructions": self.instructions,
        }


def timing(due: datetime, now: datetime) -> Timing:
    if due > now:
        return Timing.UPCOMING
    return Timing.OVERDUE if now - due > OVERDUE_AFTER else Timing.DUE


def list_actions(
    store: Store,
    now: datetime,
    *,
    show: Timing | None = None,
    sequence: str | None = None,
    viewer: Viewer | None = None,
    owner: str | None = None,
    paused: bool = False,
) -> list[ActionView]:
    """Open actions (due or overdue), and upcoming manual steps not due yet.

    Without a filter: everything open plus what is upcoming. An action is overdue a day after
    its due time. `viewer` and `owner` keep the actions of sequences the viewer may see and the
    owner owns (newest published version); the step's `assignee`, when set, counts as the owner.
    Those of a paused sequence or enrollment are on hold: left out, or with `paused` listed
    with the status `paused` (onhold.py).
    """
    audience = Audience(store, viewer, owner)
    versions = Versions(store)
    views: list[ActionView] = []
    hold = OnHold(store)
    if show is not Timing.UPCOMING:
        found = store.actions(status="open", sequence=sequence)
        held = hold.held((a.sequence, a.enrollment) for a in found)
        for action in found:
            if audience.filters and not audience.admits(
                action.sequence, assignee=_assignee(store, versions, action)
            ):
                continue
            if action.enrollment in held and not paused:
                continue
            state = timing(action.due_at, now)
            if show is None or state is show or (show is Timing.DUE and state is Timing.OVERDUE):
                views.append(
                    ActionView(
                        action.id,
                        action.sequence,
                        action.contact,
                        action.step,
                        action.type,
                        action.due_at,
                        "paused" if action.enrollment in held else str(state),
                        action.title,
                        action.instructions,
                    )
                )
    if show in (None, Timing.UPCOMING):
        upcoming = _upcoming(store, now, sequence, versions, audience)
        views.extend(
            replace(v, status="paused") if v.sequence in hold.paused_sequences else v
            for v in upcoming
            if paused or v.sequence not in hold.paused_sequences
        )
    return views


def _assignee(store: Store, versions: Versions, action: ActionRecord) -> str | None:
    """The assignee of the step that made the action, in its enrollment's version."""
    enrollment = store.enrollment(action.enrollment)
    if enrollment is None:
        return None
    for step in versions.get(action.sequence, enrollment.version).steps:
        if step.id == action.step:
            assignee = step.spec.get("assignee")
            return str(assignee) if assignee else None
    return None


def _upcoming(
    store: Store, now: datetime, sequence: str | None, versions: Versions, audience: Audience
) -> list[ActionView]:
    views = []
    for enrollment in store.enrollments(sequence=sequence, state="active"):
        if enrollment.next_due_at is None or enrollment.next_due_at <= now:
            continue
        version = versions.get(enrollment.sequence, enrollment.version)
        step = version.steps[enrollment.step]
        assignee = step.spec.get("assignee")
        if step.is_manual and audience.admits(
            enrollment.sequence, assignee=str(assignee) if assignee else None
        ):
            views.append(
                ActionView(
                    None,
                    enrollment.sequence,
                    enrollment.contact,
                    step.id,
                    str(step.type),
                    enrollment.next_due_at,
                    str(Timing.UPCOMING),
                    step.spec.get("name") or step.spec.get("subject"),
                )
            )
    return sorted(views, key=lambda v: v.due_at)


def close(
    store: Store,
    action_id: int,
    *,
    now: datetime,
    skipped: bool = False,
    by: str | None = None,
    viewer: Viewer | None = None,
) -> tuple[ActionRecord, str]:
    """Mark an action done (or skipped); its enrollment moves on from now. Returns the new state.

    An action of a sequence the viewer may not see is not found, as one that does not exist.
    """
    action = store.action(action_id)
    if action is None or not visible(store, action.sequence, viewer):
        raise NotFound(f"no action {action_id} (seqctl actions lists them)")
    if action.status != ActionStatus.OPEN:
        raise SeqctlError(f"action {action_id} is already {action.status}")
    enrollment = store.enrollment(action.enrollment)
    assert enrollment is not None
    status = "skipped" if skipped else "done"
    with store.transaction():
        store.close_action(action_id, status, now, by)
        state = finish_step(store, enrollment, now=now, kind=status, step_id=action.step, detail=by)
        if enrollment.state == EnrollmentState.PAUSED and state != EnrollmentState.COMPLETED:
            # Done while paused: the step counts, the next countdown stays frozen until resumed.
            store.set_paused(enrollment.id, at=now, reason=enrollment.reason or "paused")
            state = "paused"
    return action, state
