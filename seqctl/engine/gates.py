"""The gates an outgoing message passes: approval rules with their caps, the suppression list.

Also which steps need the contact's engagement read before they are decided.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from seqctl.engine.runtime import RunnableVersion
from seqctl.engine.steps import Kind, Outcome
from seqctl.playbook.model import Step, StepType
from seqctl.store import Store
from seqctl.timeutil import format_instant


def needs_engagement(step: Step) -> bool:
    """Steps whose outcome depends on what the contact did: branches, WhatsApp, channel auto."""
    return step.type in (StepType.BRANCH, StepType.WHATSAPP) or step.spec.get("channel") == "auto"


class Suppressions:
    """The suppression list, asked only when it has entries."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.active = store.has_suppressions()

    def check(self, contact: str, outcome: Outcome) -> str | None:
        """Why this outcome must not reach the contact, or None."""
        if not self.active or outcome.kind is not Kind.SEND or outcome.message is None:
            return None
        values = [contact]
        address = (outcome.message.to or "").lower()
        if address:
            values.append(address)
            if "@" in address:
                values.append("@" + address.split("@", 1)[1])
        found = self.store.suppressed(values)
        if contact in found:
            return f"unsubscribed: {found[contact]}"
        for value in values[1:]:
            if value in found:
                return f"{value} is suppressed ({found[value]})"
        return None


def needs_approval(version: RunnableVersion, step_id: str) -> bool:
    """Nothing goes out without an OK unless the playbook says so (approval: auto, auto_approve)."""
    return version.release(step_id)[0]


class AutoApproval:
    """auto_approve rules with their max_per_day caps, counted over a rolling 24 hours."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.since = format_instant(now - timedelta(days=1)) or ""
        self.used: dict[tuple[str, str], int] = {}

    def allows(self, version: RunnableVersion, step_id: str) -> bool:
        """True when this message may go without a person's OK (and counts it if capped)."""
        needs_person, cap = version.release(step_id)
        if needs_person:
            return False
        if cap is None:
            return True
        key = (version.sequence, step_id)
        if key not in self.used:
            self.used[key] = self.store.count_released(version.sequence, step_id, self.since)
        if self.used[key] >= cap:
            return False
        self.used[key] += 1
        return True
