"""One batch of due enrollments: the outcome of each, and the writes they make together."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from seqctl.engine.run.advance import moved_on
from seqctl.engine.run.gates import AutoApproval
from seqctl.engine.run.limits import Limits
from seqctl.engine.run.runtime import RunnableVersion
from seqctl.engine.run.steps import DueEnrollment, Kind, Outcome
from seqctl.schedule import open_at
from seqctl.store.records import Deliverable, MessageRecord, NewAction, NewMessage, Transition
from seqctl.store.states import EnrollmentState, MessageStatus
from seqctl.timeutil import format_instant


class Batch:
    """The writes of one batch of due enrollments, applied together."""

    def __init__(
        self,
        now: datetime,
        approvals: AutoApproval,
        limits: Limits,
        marked_at_once: Callable[[str], bool] = lambda message_type: True,
    ) -> None:
        self.now = now
        self.auto = approvals
        self.limits = limits
        # Whether an admitted message of this type is written `sending` (its channel takes
        # whole batches and can say what it got), or `queued` until a connection starts it.
        self.marked_at_once = marked_at_once
        self.sending: list[tuple[NewMessage, DueEnrollment]] = []  # admitted: deliver now
        self._json: dict[int, str] = {}
        self.anchors: dict[str, datetime] = {}  # when each message's visit to its step began
        self.deferred = 0
        self.messages: list[NewMessage] = []
        self.actions: list[NewAction] = []
        self.transitions: list[Transition] = []
        self.approvals = 0
        self.failed = 0
        self.dropped: set[int] = set()

    def complete(self, due: DueEnrollment) -> None:
        self.transitions.append(
            Transition(
                due.id,
                "completed",
                due.step,
                due.anchor_at,
                None,
                None,
                self.now,
                "completed",
                None,
            )
        )

    def exit(
        self, due: DueEnrollment, reason: str, detail: str, step_id: str | None = None
    ) -> None:
        self.transitions.append(
            Transition(
                due.id,
                "exited",
                due.step,
                due.anchor_at,
                None,
                reason,
                self.now,
                "exited",
                step_id,
                detail,
            )
        )

    def fail(self, due: DueEnrollment, step_id: str, reason: str) -> None:
        self.failed += 1
        self.transitions.append(
            Transition(
                due.id,
                "failed",
                due.step,
                due.anchor_at,
                None,
                reason,
                self.now,
                "failed",
                step_id,
                reason,
            )
        )

    def add(self, version: RunnableVersion, due: DueEnrollment, outcome: Outcome) -> None:
        step = outcome.step
        if outcome.kind is Kind.FAIL:
            self.fail(due, step.id, outcome.reason or "failed")
        elif outcome.kind is Kind.JUMP:
            assert outcome.next_index is not None
            target = (
                version.steps[outcome.next_index].id
                if outcome.next_index < len(version.steps)
                else "the end"
            )
            self.transitions.extend(
                moved_on(
                    version,
                    due.id,
                    next_index=outcome.next_index,
                    done_at=self.now,
                    enrolled_at=due.enrolled_at,
                    contact_zone=due.contact_zone,
                    place=version.place_of(due.contact_fields),
                    kind="branched",
                    step_id=step.id,
                    detail=f"to {target}",
                )
            )
        elif outcome.kind is Kind.ACTION:
            self.actions.append(
                NewAction(
                    due.id,
                    step.id,
                    str(step.type),
                    due.due_at,
                    outcome.title,
                    outcome.instructions,
                )
            )
            self.transitions.append(
                Transition(
                    due.id,
                    "waiting",
                    due.step,
                    due.anchor_at,
                    None,
                    f"action for step '{step.id}'",
                    self.now,
                    "action",
                    step.id,
                    outcome.title,
                )
            )
        else:
            message = outcome.message
            assert message is not None
            held = not self.auto.allows(version, step.id)
            sender = (version.model.definition.get("sender") or {}).get("email")
            deferral = None if held else self.limits.admit(version, sender)
            if held:
                status = MessageStatus.PENDING_APPROVAL
            else:
                status = MessageStatus.QUEUED if deferral else MessageStatus.SENDING
            if status == MessageStatus.SENDING and not self.marked_at_once(message.channel):
                status = MessageStatus.QUEUED  # marked `sending` by the connection that starts it
            new = NewMessage(
                idempotency_key=f"{due.id}:{due.version}:{step.id}",
                enrollment=due.id,
                sequence=due.sequence,
                version=due.version,
                step=step.id,
                contact=due.contact,
                channel=message.channel,
                to_address=message.to,
                subject=message.subject,
                body=message.body,
                status=status,
                created_at=self.now,
                extra_json=self.extra_json(
                    {**message.extra, "variant": outcome.variant}
                    if outcome.variant
                    else message.extra
                ),
                sender=sender,
                next_attempt_at=(
                    open_at(
                        deferral[1],
                        version.calendar(due.contact_zone, version.place_of(due.contact_fields)),
                    )
                    if deferral
                    else None
                ),
                error=deferral[0] if deferral else None,
                variant=outcome.variant,
            )
            self.messages.append(new)
            self.anchors[new.idempotency_key] = due.anchor_at
            if held:
                self.approvals += 1
                state, reason, kind = (
                    "waiting",
                    f"message for step '{step.id}' awaits approval",
                    ("approval"),
                )
            else:
                # Active with no due time while its message is in the outbox: the step is done
                # when the message is sent.
                state, reason, kind = "active", None, "queued"
                if deferral:
                    self.deferred += 1
                    reason = f"message deferred: {deferral[0]}"
                else:
                    # Sent in a moment, in this tick: its `sent` transition says it all. Only if
                    # the message turns out to be in the outbox already (a run that died) is it
                    # parked here, for the recovery of in-flight messages to finish.
                    self.sending.append((new, due))
                    return
            self.transitions.append(
                Transition(
                    due.id,
                    state,
                    due.step,
                    due.anchor_at,
                    None,
                    reason,
                    self.now,
                    kind,
                    step.id,
                    message.to,
                )
            )

    def drop(self, enrollments: set[int]) -> None:
        """Leave these enrollments out: they changed (a reply, a pause, a removal) while the
        batch was being worked out, and what changed them wins."""
        if not enrollments:
            return
        self.dropped |= enrollments
        kept = [m for m in self.messages if m.enrollment not in enrollments]
        for message in self.messages:
            if message.enrollment in enrollments:
                self.approvals -= message.status == MessageStatus.PENDING_APPROVAL
                self.deferred -= message.next_attempt_at is not None  # held by a daily cap
        self.messages = kept
        self.actions = [a for a in self.actions if a.enrollment not in enrollments]
        self.failed -= sum(
            1
            for t in self.transitions
            if t.enrollment in enrollments and t.state == EnrollmentState.FAILED
        )
        self.transitions = [t for t in self.transitions if t.enrollment not in enrollments]
        self.sending = [(n, d) for n, d in self.sending if n.enrollment not in enrollments]

    def extra_json(self, extra: dict[str, Any]) -> str | None:
        """A message's extra fields as JSON; the common case (just the sender) made once."""
        if not extra:
            return None
        if len(extra) == 1 and "from" in extra:
            key = id(extra["from"])
            found = self._json.get(key)
            if found is None:
                found = self._json[key] = json.dumps(extra)
            return found
        return json.dumps(extra)

    def rekey_revisits(self, finished: set[str]) -> None:
        """A step visited again (a branch looping back) gets a message of its own.

        The key of a message is (enrollment, version, step); when that one is done with
        already, the new visit's key adds the time the visit began, which stays the same
        however often a crashed tick is run again.
        """
        if not finished:
            return
        renamed: dict[str, NewMessage] = {}
        for index, message in enumerate(self.messages):
            if message.idempotency_key in finished:
                anchor = format_instant(self.anchors[message.idempotency_key])
                fresh = message._replace(idempotency_key=f"{message.idempotency_key}@{anchor}")
                renamed[message.idempotency_key] = self.messages[index] = fresh
        self.sending = [(renamed.get(n.idempotency_key, n), d) for n, d in self.sending]

    def park_known(self, ids: dict[str, int]) -> None:
        """Messages that were in the outbox already: their enrollments wait for the recovery."""
        for new, due in self.sending:
            if new.idempotency_key not in ids:
                self.transitions.append(
                    Transition(
                        due.id,
                        "active",
                        due.step,
                        due.anchor_at,
                        None,
                        None,
                        self.now,
                        "queued",
                        new.step,
                        new.to_address,
                    )
                )

    def deliverables(self, ids: dict[str, int]) -> list[Deliverable]:
        """The admitted messages of this batch as the outbox would read them back."""
        rows = []
        for new, due in self.sending:
            message_id = ids.get(new.idempotency_key)
            if message_id is None:
                continue  # already in the outbox from an earlier run: recovery sends it
            record = MessageRecord(
                message_id,
                new.idempotency_key,
                new.enrollment,
                new.sequence,
                new.version,
                new.step,
                new.contact,
                new.channel,
                new.to_address,
                new.subject,
                new.body,
                "sending",
                0,
                None,
                self.now,  # new.created_at, as a time
                None,
                None,
            )
            rows.append(
                Deliverable(
                    record,
                    due.step,
                    "active",
                    due.anchor_at,
                    due.enrolled_at,
                    due.contact_zone,
                    new.extra_json,
                    new.sender,
                )
            )
        return rows
