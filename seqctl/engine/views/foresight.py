"""What the tick will do with a contact's current step, said before it does it (for `doctor`).

The step is rendered for the contact as the tick would render it when it falls due: a message
with no address for its channel, a template variable the contact lacks, or an address on the
suppression list is a failure the tick will meet, and doctor names it now. A compose program
is not run here (it would cost a call to the program); the draft it starts from is rendered.
The calendar part names the closed days a send window's next opening skipped.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from seqctl import render
from seqctl.engine.incoming.addresses import country_of
from seqctl.engine.incoming.engagement import engagement
from seqctl.engine.incoming.suppression import Checker
from seqctl.engine.messages.content import action_instructions, action_title, render_step
from seqctl.engine.outbox.routing import Undeliverable, suppression_keys
from seqctl.engine.run.runtime import RunnableVersion
from seqctl.engine.run.steps import variables_for
from seqctl.playbook.model import MESSAGE_TYPES, StepType
from seqctl.schedule import Calendar
from seqctl.store import ContactRecord, Store
from seqctl.store.records import EnrollmentRecord

Finding = tuple[str, bool, str]  # (check name, ok, detail), as doctor lists them


def predict(
    store: Store,
    e: EnrollmentRecord,
    version: RunnableVersion,
    person: ContactRecord,
    now: datetime,
) -> list[Finding]:
    """The `content` (and, for a message, `address`) checks of the enrollment's current step."""
    if e.step >= len(version.steps):
        return []
    step = version.steps[e.step]
    if step.type is StepType.BRANCH:
        return []
    at = max(e.next_due_at or now, now)
    fields = person.fields()
    variables = variables_for(version, step, e.id, fields, e.vars, e.enrolled_at, at)
    fix = f"seqctl contacts import a file with {person.key}'s values, then seqctl doctor again"
    if step.is_manual or step.type not in (*MESSAGE_TYPES, StepType.WEBHOOK):
        try:
            action_title(step, fields, variables)
            action_instructions(step, variables)
        except render.RenderError as exc:
            return [("content", False, f"step '{step.id}' will fail: {exc}; {fix}")]
        return [("content", True, f"step '{step.id}' renders for this contact")]
    keys = suppression_keys(version.model.definition, fields)
    seen = engagement(store, e.contact, e.sequence, e.enrolled_at, at, keys)
    plain = replace(step, spec={k: v for k, v in step.spec.items() if k != "compose"})
    try:
        message = render_step(version, plain, fields, variables, seen)
    except Undeliverable as exc:
        return [("address", False, f"step '{step.id}' will fail: {exc}")]
    except render.RenderError as exc:
        return [("content", False, f"step '{step.id}' will fail: {exc}; {fix}")]
    content = ("content", True, f"step '{step.id}' renders for this contact")
    to = message.to or ""
    blocked = Checker(store).message(e.contact, message.channel, to, country_of(fields))
    if blocked is not None:
        return [
            content,
            (
                "address",
                False,
                f"{blocked}: the tick will not send step '{step.id}' and ends the enrollment there",
            ),
        ]
    why = f" ({message.why})" if message.why else ""
    return [content, ("address", True, f"{message.channel} to {to or '-'}{why}")]


def closed_days_skipped(start: datetime, opening: datetime, cal: Calendar) -> list[str]:
    """The holidays and listed closed dates between `start` and `opening`, in the zone: the days
    a send window's next opening passed over (`2026-11-26 (Thanksgiving)`)."""
    first, last = start.astimezone(cal.zone).date(), opening.astimezone(cal.zone).date()
    skipped = []
    day = first
    while day < last:
        named = _closed(day, cal)
        if named is not None and (cal.window is None or day.weekday() in cal.window.days):
            skipped.append(named)
        day += timedelta(days=1)
    return skipped


def _closed(day: date, cal: Calendar) -> str | None:
    name = cal.holiday_name(day)
    if name is not None:
        return f"{day} ({name})"
    if day in cal.closed:
        return f"{day} (listed in holidays.dates)"
    return None
