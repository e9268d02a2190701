"""Moving an enrollment past a step: the next step's due time, or completion."""

from __future__ import annotations

from datetime import datetime

from seqctl.engine.run.runtime import Place, RunnableVersion, Versions
from seqctl.store import Store
from seqctl.store.records import Deliverable, EnrollmentRecord, Transition
from seqctl.store.states import EnrollmentState


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
    place: Place | None = None,
) -> list[Transition]:
    """The step is done at done_at: schedule step next_index, or complete the enrollment.

    `place`: the contact's own country for holidays (RunnableVersion.place_of), if any."""
    at = done_at
    due = version.due(
        next_index,
        anchor=done_at,
        enrolled_at=enrolled_at,
        contact_zone=contact_zone,
        place=place,
    )
    if due is None:
        return [
            Transition(enrollment, "active", next_index, at, None, None, at, kind, step_id, detail),
            Transition(enrollment, "completed", next_index, at, None, None, at, "completed", None),
        ]
    return [Transition(enrollment, "active", next_index, at, due, None, at, kind, step_id, detail)]


def finish_step(
    store: Store,
    enrollment: EnrollmentRecord,
    *,
    now: datetime,
    kind: str,
    step_id: str,
    detail: str | None,
) -> str:
    """A person finished the current step (done, skipped, rejected): move on from now.

    Writes the transitions and returns the enrollment's new state.
    """
    version = Versions(store).get(enrollment.sequence, enrollment.version)
    contact = store.contact(enrollment.contact)
    enrolled = enrollment.enrolled_at
    moves = moved_on(
        version,
        enrollment.id,
        next_index=version.after(enrollment.step),
        done_at=now,
        enrolled_at=enrolled,
        contact_zone=contact.timezone if contact else None,
        kind=kind,
        step_id=step_id,
        detail=detail,
        place=version.place_of(contact.fields()) if contact else None,
    )
    store.apply(moves)
    return moves[-1].state


def exit_enrollment(
    store: Store,
    enrollment: EnrollmentRecord,
    *,
    at: datetime,
    reason: str,
    kind: str,
    detail: str | None,
    step_id: str | None = None,
) -> None:
    """End an enrollment: exited with the reason; open actions and unsent messages cancelled."""
    store.cancel_actions(enrollment.id, at)
    store.cancel_messages(enrollment.id)
    store.apply(
        [
            Transition(
                enrollment.id,
                "exited",
                enrollment.step,
                enrollment.anchor_at,
                None,
                reason,
                at,
                kind,
                step_id,
                detail,
            )
        ]
    )


def at_message_step(
    row: Deliverable, state: str, at: datetime, kind: str, detail: str | None
) -> Transition:
    """The enrollment of an outbox message stays at that message's step: `retrying` (active,
    out of the due set), or `failed` there with the reason."""
    message = row.message
    reason = f"step '{message.step}': {detail}" if state == EnrollmentState.FAILED else None
    return Transition(
        message.enrollment,
        state,
        row.step_index,
        row.anchor_at,
        None,
        reason,
        at,
        kind,
        message.step,
        detail,
    )
