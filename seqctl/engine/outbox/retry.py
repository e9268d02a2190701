"""`seqctl retry`: failed enrollments get another go — their failed message, or their step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from seqctl.engine.run.runtime import Versions
from seqctl.engine.sequences.catalog import admitted, require_visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.errors import NotFound
from seqctl.store import Store
from seqctl.store.records import Transition


@dataclass
class RetryReport:
    messages: int = 0  # failed deliveries queued again as they were
    steps: int = 0  # steps that failed before a message existed: rendered again at the next tick

    def as_json(self) -> dict[str, int]:
        return {"messages": self.messages, "steps": self.steps}


def retry(
    store: Store,
    *,
    now: datetime,
    sequence: str | None = None,
    contact: str | None = None,
    viewer: Viewer | None = None,
) -> RetryReport:
    """Every failed enrollment (of a sequence, of a contact, of the sequences the viewer may
    see) goes back to active."""
    if sequence is not None:
        require_visible(store, sequence, viewer)
    among = admitted(store, viewer)
    if sequence is not None and store.sequence(sequence) is None:
        raise NotFound(f"no sequence '{sequence}'")
    versions = Versions(store)
    report = RetryReport()
    requeue: list[int] = []
    transitions: list[Transition] = []
    for enrollment in store.enrollments(sequence=sequence, contact=contact, state="failed"):
        if among is not None and enrollment.sequence not in among:
            continue
        step = versions.get(enrollment.sequence, enrollment.version).steps[enrollment.step]
        failed = [
            m
            for m in store.messages(enrollment=enrollment.id, status="failed")
            if m.step == step.id
        ]
        if failed:
            requeue.append(failed[-1].id)
            report.messages += 1
            due = None  # the message goes out at the next tick; the step is done then
        else:
            report.steps += 1
            due = now
        transitions.append(
            Transition(
                enrollment.id,
                "active",
                enrollment.step,
                enrollment.anchor_at,
                due,
                None,
                now,
                "retry",
                step.id,
                enrollment.reason,
            )
        )
    with store.transaction():
        store.requeue(requeue)
        store.apply(transitions)
    return report
