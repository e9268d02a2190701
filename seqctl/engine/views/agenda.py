"""What the coming days hold: automatic messages and actions per day, sequence and owner.

A forecast, not a promise: each enrollment's steps are walked forward as if every step were done
the moment it is due (as `seqctl preview` does), up to the window's end. A branch stops the walk
(its outcome depends on what the contact does), and so does an open action: what follows waits
for a person. Days are UTC dates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from seqctl.engine.run.runtime import Place, RunnableVersion, Versions
from seqctl.engine.sequences.catalog import admitted, require_visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.playbook.model import MESSAGE_TYPES, Step, StepType
from seqctl.store import Store

MAX_STEPS = 200  # a loop of `next:` with no waits must not walk forever


@dataclass(frozen=True)
class AgendaDay:
    """One day of one sequence for one owner; `over_limit` messages go a day later or more."""

    date: str
    sequence: str
    owner: str | None
    messages: int
    actions: int
    limit: int | None
    over_limit: int

    def as_json(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "sequence": self.sequence,
            "owner": self.owner,
            "messages": self.messages,
            "actions": self.actions,
            "limit": self.limit,
            "over_limit": self.over_limit,
        }

    @property
    def note(self) -> str | None:
        if not self.over_limit:
            return None
        return f"over the daily limit of {self.limit}: {self.over_limit} will be deferred"


def window_end(now: datetime, days: int) -> datetime:
    """The end of the window: midnight UTC after today and the `days - 1` days that follow."""
    today = now.astimezone(UTC).date()
    return datetime.combine(today + timedelta(days=days), time(), UTC)


def forecast(
    version: RunnableVersion,
    index: int,
    *,
    due: datetime,
    enrolled_at: datetime,
    zone: str | None,
    until: datetime,
    place: Place | None = None,
) -> Iterator[tuple[Step, datetime]]:
    """Step `index` (due at `due`) and those after it, each done when due, until a branch."""
    walked = 0
    moment: datetime | None = due
    while moment is not None and moment < until and index < len(version.steps):
        step = version.steps[index]
        if step.type is StepType.BRANCH or walked >= MAX_STEPS:
            return
        yield step, moment
        walked += 1
        following = version.after(index)
        moment = version.due(
            following, anchor=moment, enrolled_at=enrolled_at, contact_zone=zone, place=place
        )
        index = following


def kind_of(step: Step) -> str | None:
    """'messages' for an automatic message, 'actions' for work for a person, else None."""
    if step.is_manual or step.type not in (*MESSAGE_TYPES, StepType.WEBHOOK, StepType.BRANCH):
        return "actions"
    return "messages" if step.is_message else None


def owner_of(version: RunnableVersion, step: Step, kind: str) -> str | None:
    """The sequence's owner; an action goes to its step's assignee when there is one."""
    definition = version.model.definition
    assignee = step.spec.get("assignee") if kind == "actions" else None
    owner = assignee or definition.get("owner")
    return str(owner) if owner else None


def agenda(
    store: Store,
    now: datetime,
    *,
    days: int = 7,
    sequence: str | None = None,
    owner: str | None = None,
    viewer: Viewer | None = None,
) -> list[AgendaDay]:
    """Messages and actions per UTC day from now for `days` days, against each daily limit.

    Counts are kept per (day, sequence, owner) as enrollments stream by: memory does not grow
    with their number. Only active sequences count; what is already due counts on today.
    """
    if sequence is not None:
        require_visible(store, sequence, viewer)
    among = admitted(store, viewer)
    until = window_end(now, days)
    versions = Versions(store)
    running: dict[str, bool] = {}

    def is_running(sequence_id: str) -> bool:
        if sequence_id not in running:
            record = store.sequence(sequence_id)
            running[sequence_id] = (
                record is not None
                and record.status == "active"
                and (among is None or sequence_id in among)
            )
        return running[sequence_id]

    counts: Counter[tuple[str, str, str | None, str]] = Counter()
    for enrollment, contact in store.enrollments_with_contacts(
        states=("active",), sequence=sequence, due_before=until
    ):
        due, enrolled_at = enrollment.next_due_at, enrollment.enrolled_at
        if due is None or not is_running(enrollment.sequence):
            continue
        version = versions.get(enrollment.sequence, enrollment.version)
        steps = forecast(
            version,
            enrollment.step,
            due=max(due, now),  # overdue: the next tick takes it
            enrolled_at=enrolled_at,
            zone=contact.timezone,
            until=until,
            place=version.place_of(contact.fields()),
        )
        for step, moment in steps:
            kind = kind_of(step)
            if kind is not None:
                day = moment.astimezone(UTC).date().isoformat()
                counts[(day, enrollment.sequence, owner_of(version, step, kind), kind)] += 1
    for row in store.open_action_days(now=now, until=until, sequence=sequence):
        if not is_running(row.sequence):
            continue
        version = versions.get(row.sequence, row.version)
        found = version.model.step(row.step)
        who = owner_of(version, found, "actions") if found is not None else None
        counts[(row.day.isoformat(), row.sequence, who, "actions")] += row.count
    return _days(counts, versions, owner)


def _days(
    counts: Counter[tuple[str, str, str | None, str]], versions: Versions, owner: str | None
) -> list[AgendaDay]:
    """Rows per (day, sequence, owner); the daily limit is the latest version's, per sequence."""
    sent: Counter[tuple[str, str]] = Counter()
    for (day, sequence_id, _, kind), n in counts.items():
        if kind == "messages":
            sent[(day, sequence_id)] += n
    keys = sorted({key[:3] for key in counts}, key=lambda k: (k[0], k[1], k[2] or ""))
    rows = []
    for day, sequence_id, who in keys:
        if owner is not None and who != owner:
            continue
        limits = versions.get(sequence_id).model.definition.get("limits") or {}
        limit = int(limits["per_day"]) if limits.get("per_day") is not None else None
        over = max(0, sent[(day, sequence_id)] - limit) if limit is not None else 0
        messages = counts[(day, sequence_id, who, "messages")]
        rows.append(
            AgendaDay(
                day,
                sequence_id,
                who,
                messages,
                counts[(day, sequence_id, who, "actions")],
                limit,
                over if messages else 0,
            )
        )
    return rows
