"""What is happening: enrollments, a sequence's status by state and step, a contact's timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from seqctl.engine.incoming.events import describe
from seqctl.engine.run.runtime import Versions
from seqctl.engine.sequences.catalog import admitted, require_visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.engine.views import results
from seqctl.errors import NotFound
from seqctl.store import Store
from seqctl.store.records import MessageRecord, StepEvent, StepKind
from seqctl.store.states import RUNNING_STATES, EnrollmentState, MessageStatus
from seqctl.timeutil import format_instant

STATES = tuple(EnrollmentState)
STEP_COUNTS = ("sent", "done", "skipped", "failed", "action", "approval", "rejected")
# An enrollment reached a step when the step did something to it (a branch step only branches).
REACHED_KINDS = (*STEP_COUNTS, "branched")
# Funnel fields counted as distinct contacts with an event attributed to the step.
ENGAGEMENT = {"opened": "open", "clicked": "click", "replied": "reply", "bounced": "bounce"}
REACHED_RATES = ("sent", "done", "skipped", "failed")
RATE_ORDER = ("sent", "opened", "clicked", "replied", "bounced", "done", "skipped", "failed")


def enrollments(
    store: Store,
    *,
    sequence: str | None = None,
    contact: str | None = None,
    state: str | None = None,
    among: set[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Enrollments with their state, current step id, next due time and reason.

    `among`: only in these sequences (catalog.admitted: those a viewer may see, an owner's);
    `limit`: the first this many that pass the filters.
    """
    if sequence is not None and store.sequence(sequence) is None:
        raise NotFound(f"no sequence '{sequence}'")
    versions = Versions(store)
    paused = {r.id for r in store.sequences() if r.status == "paused"}
    # Everyone in a paused sequence is paused (DESIGN.md), whatever their own state says.
    stored = None if state in (*RUNNING_STATES, EnrollmentState.PAUSED) and paused else state
    rows: list[dict[str, Any]] = []
    for e in store.enrollments(sequence=sequence, contact=contact, state=stored):
        shown, reason = e.state, e.reason
        if e.sequence in paused and e.state in RUNNING_STATES:
            shown, reason = "paused", "the sequence is paused"
        if state is not None and shown != state:
            continue
        if among is not None and e.sequence not in among:
            continue
        if limit is not None and len(rows) >= limit:
            break
        steps = versions.get(e.sequence, e.version).steps
        rows.append(
            {
                "id": e.id,
                "sequence": e.sequence,
                "version": e.version,
                "contact": e.contact,
                "state": shown,
                "step": steps[e.step].id if e.step < len(steps) else None,
                "next_due_at": format_instant(e.next_due_at),
                "reason": reason,
                "enrolled_at": format_instant(e.enrolled_at),
            }
        )
    return rows


def status(
    store: Store,
    sequence: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Counts by state, and the funnel per step of the newest version.

    `since`, `until`: only history rows and events at or after `since` and before `until`
    count; the enrollment state counts, `pending`, approvals waiting and (with `now`) actions
    due are as they are now. A/B-tested steps get their variants' results.
    """
    record = store.sequence(sequence)
    if record is None:
        raise NotFound(f"no sequence '{sequence}'")
    version = Versions(store).get(sequence)
    counts = store.state_counts(sequence)
    by_step = store.step_counts(sequence, since=since, until=until)
    reached = store.step_reached(sequence, REACHED_KINDS, since=since, until=until)
    engaged = store.event_contacts(sequence, tuple(ENGAGEMENT.values()), since=since, until=until)
    tests = results.variant_results(store, version, since, until)
    messages = store.message_counts(sequence)
    pending = (MessageStatus.PENDING_APPROVAL, MessageStatus.QUEUED, MessageStatus.SENDING)
    steps = []
    for step in version.steps:
        row: dict[str, Any] = {"id": step.id, "type": str(step.type)}
        for kind in STEP_COUNTS:
            row[kind] = by_step.get(StepKind(step.id, kind), 0)
        row["pending"] = sum(
            n for key, n in messages.items() if key.step == step.id and key.status in pending
        )
        row["reached"] = reached.get(step.id, 0)
        for field, event_type in ENGAGEMENT.items():
            row[field] = engaged.get(StepEvent(step.id, event_type), 0)
        row["rates"] = _rates(row)
        row.update(tests.get(step.id, {}))
        steps.append(row)
    definition = version.model.definition
    return {
        "sequence": sequence,
        "status": record.status,
        "version": version.number,
        "enrollments": _shown_states(counts, paused=record.status == "paused"),
        "steps": steps,
        "since": format_instant(since),
        # Events read from the senders' mailboxes (`inbox sync`), by type.
        "mailbox": store.mailbox_event_counts(sequence),
        # Enrollments that entered the funnel: all of them, or those enrolled since.
        "reached": (
            store.enrolled_count(sequence, since=since, until=until)
            if since is not None or until is not None
            else sum(counts.values())
        ),
        "until": format_instant(until),
        "name": version.model.name,
        "owner": definition.get("owner"),
        "timezone": definition.get("timezone", "UTC"),
        "totals": results.totals(store, sequence, steps, since, until, now),
    }


def _rates(row: dict[str, Any]) -> dict[str, float]:
    """Sent, done, skipped, failed of those who reached the step; engagement of those sent."""
    rates = {kind: _fraction(row[kind], row["reached"]) for kind in REACHED_RATES}
    rates.update({field: _fraction(row[field], row["sent"]) for field in ENGAGEMENT})
    return {kind: rates[kind] for kind in RATE_ORDER}


def _fraction(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def _shown_states(counts: dict[str, int], *, paused: bool) -> dict[str, int]:
    """Counts by state; in a paused sequence the active and waiting are paused (DESIGN.md)."""
    shown: dict[str, int] = {state: counts.get(state, 0) for state in STATES}
    if paused:
        shown["paused"] += shown["active"] + shown["waiting"]
        shown["active"] = shown["waiting"] = 0
    return shown


def all_status(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    among: set[str] | None = None,
) -> list[dict[str, Any]]:
    """status() of every published sequence that is not archived (`among`: only these, see
    catalog.admitted)."""
    return [
        status(store, r.id, since=since, until=until, now=now)
        for r in store.sequences()
        if r.latest_version is not None
        and r.status != "archived"
        and (among is None or r.id in among)
    ]


def timeline(store: Store, contact: str, *, viewer: Viewer | None = None) -> list[dict[str, Any]]:
    """Everything that happened to a contact, in order; only in sequences the viewer may see
    (and events that belong to no sequence)."""
    if store.contact(contact) is None:
        raise NotFound(f"no contact '{contact}'")
    among = admitted(store, viewer)
    rows = [
        {
            "at": format_instant(h.at),
            "sequence": h.sequence,
            "step": h.step,
            "kind": h.kind,
            "detail": h.detail,
        }
        for h in store.history(contact=contact)
        if among is None or h.sequence in among
    ]
    # Events that touched no running enrollment (a bounce after the sequence ended, an open of
    # an old message) have no history row: show them from the events themselves.
    written = {(row["at"], row["kind"]) for row in rows}
    for event in store.events(contact=contact):
        if among is not None and event.sequence is not None and event.sequence not in among:
            continue
        if (format_instant(event.at), event.type) not in written:
            rows.append(
                {
                    "at": format_instant(event.at),
                    "sequence": event.sequence,
                    "step": event.step,
                    "kind": event.type,
                    "detail": describe(event.data),
                }
            )
    return sorted(rows, key=lambda row: str(row["at"]))


def messages(
    store: Store,
    *,
    status: str | None = None,
    sequence: str | None = None,
    limit: int | None = None,
    viewer: Viewer | None = None,
) -> list[MessageRecord]:
    """The outbox (of a sequence, in a status), of the sequences the viewer may see."""
    if sequence is not None:
        require_visible(store, sequence, viewer)
    among = admitted(store, viewer)
    if among is None:
        return store.messages(status=status, sequence=sequence, limit=limit)
    shown = [m for m in store.messages(status=status, sequence=sequence) if m.sequence in among]
    return shown[:limit] if limit else shown
