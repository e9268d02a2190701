"""The gates an outgoing message passes: approval rules with their caps, the suppression list.

Also which steps need the contact's engagement read before they are decided.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from seqctl.engine.incoming.addresses import country_of
from seqctl.engine.incoming.suppression import Checker
from seqctl.engine.run.runtime import RunnableVersion
from seqctl.engine.run.steps import DueEnrollment, Kind, Outcome
from seqctl.playbook.model import Step, StepType
from seqctl.store import Store


def needs_engagement(step: Step) -> bool:
    """Steps whose outcome depends on what the contact did: branches, WhatsApp, channel auto."""
    return step.type in (StepType.BRANCH, StepType.WHATSAPP) or step.spec.get("channel") == "auto"


class Suppressions:
    """The suppression list as the tick asks it: a message to a suppressed address never goes."""

    def __init__(self, store: Store) -> None:
        self.checker = Checker(store)

    def check(self, due: DueEnrollment, outcome: Outcome) -> str | None:
        """Why this outcome must not reach the contact, or None."""
        if not self.checker.active or outcome.kind is not Kind.SEND or outcome.message is None:
            return None
        message = outcome.message
        country = country_of(due.contact_fields)  # for a number without its country code
        found = self.checker.message(due.contact, message.channel, message.to, country)
        return str(found) if found is not None else None


def needs_approval(version: RunnableVersion, step_id: str) -> bool:
    """Nothing goes out without an OK unless the playbook says so (approval: auto, auto_approve)."""
    return version.release(step_id)[0]


class AutoApproval:
    """auto_approve rules with their max_per_day caps, counted over a rolling 24 hours."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.since = now - timedelta(days=1)
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
