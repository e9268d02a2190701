"""What `status` adds for people who manage: each A/B test's results, and a sequence's totals
over a period (messages sent, replies, meetings, bounces, unsubscribes, approvals waiting,
actions due and overdue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from seqctl.engine.people.actions import OVERDUE_AFTER
from seqctl.engine.run.runtime import RunnableVersion
from seqctl.engine.views import experiments
from seqctl.store import Store

TOTAL_EVENTS = {
    "opened": "open",
    "clicked": "click",
    "replied": "reply",
    "meetings": "meeting_booked",
    "bounced": "bounce",
    "unsubscribed": "unsubscribe",
}


def variant_results(
    store: Store, version: RunnableVersion, since: datetime | None, until: datetime | None
) -> dict[str, dict[str, Any]]:
    """Per A/B-tested step of the version (or step with messages of variants): its variants'
    results, the comparison on each metric, and the declared winner."""
    counts = store.variant_counts(
        version.sequence, tuple(experiments.EVENT_TYPES.values()), since, until
    )
    by_step: dict[str, dict[str, dict[str, int]]] = {}
    for key, found in counts.items():
        by_step.setdefault(key.step, {})[key.variant] = {
            metric: found.get(experiments.EVENT_TYPES.get(metric, metric), 0)
            for metric in ("sent", *experiments.METRICS)
        }
    results = {}
    for step in version.steps:
        declared = [(v.id, v.spec.get("name"), v.weight) for v in step.variants]
        if not declared and step.id not in by_step:
            continue
        rows = experiments.variant_rows(declared, by_step.get(step.id, {}), step.winner)
        results[step.id] = {
            "variants": rows,
            "comparison": experiments.comparisons(rows),
            "winner": step.winner,
        }
    return results


def totals(
    store: Store,
    sequence: str,
    steps: list[dict[str, Any]],
    since: datetime | None,
    until: datetime | None,
    now: datetime | None,
) -> dict[str, Any]:
    """The sequence over the period: messages sent (the steps' `sent`), contacts messaged, and
    contacts with each kind of event; approvals and actions as they are now."""
    sent = sum(int(s["sent"]) for s in steps)
    contacted = store.contacted(sequence, since, until)
    events = store.event_totals(sequence, tuple(TOTAL_EVENTS.values()), since, until)
    data: dict[str, Any] = {"sent": sent, "contacted": contacted}
    for field, kind in TOTAL_EVENTS.items():
        data[field] = events.get(kind, 0)
    data["reply_rate"] = round(data["replied"] / contacted, 3) if contacted else 0.0
    data["approvals_waiting"] = store.waiting_approval(sequence)
    if now is not None:
        actions = store.open_actions_due(sequence, now, now - OVERDUE_AFTER)
        data["actions_due"], data["actions_overdue"] = actions.due, actions.overdue
    return data
