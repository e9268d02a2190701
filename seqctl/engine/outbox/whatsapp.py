"""WhatsApp's 24-hour window, judged when a message leaves, not when it was rendered.

WhatsApp allows free text only within 24 hours of the contact's last message on WhatsApp;
outside that window only an approved template may go. A message rendered inside the window
may leave much later: after an approval, a daily cap or a retry. So the window is judged again
as it leaves. Free text whose window has closed goes out as its step's `whatsapp_template`
(rendered then, and stored in the message's place, so `messages` shows what was sent), or,
when the step has none (or it does not render), fails with that reason. `doctor` asks the same
question about a message that waits, through `verdict`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from seqctl import render
from seqctl.engine.incoming.engagement import whatsapp_since, window_open
from seqctl.engine.messages.content import Rendered, whatsapp_template
from seqctl.engine.run.advance import at_message_step
from seqctl.engine.run.runtime import Versions
from seqctl.engine.run.steps import variables_for
from seqctl.store import Store
from seqctl.store.records import Deliverable, MessageRecord
from seqctl.store.states import EnrollmentState
from seqctl.timeutil import format_instant

CHANNEL = "whatsapp"


def free_text(channel: str, extra: dict[str, Any]) -> bool:
    """A WhatsApp message that is not a template: it may go only inside the window."""
    return channel == CHANNEL and "template" not in extra


def last_wrote(last: datetime | None) -> str:
    """What the window was opened by, in words."""
    if last is None:
        return "the contact has not written on WhatsApp"
    return f"the contact last wrote on WhatsApp at {format_instant(last)}"


@dataclass(frozen=True)
class Verdict:
    """What a free-text WhatsApp message becomes if it leaves at `at`."""

    at: datetime
    last: datetime | None  # when the contact last wrote on WhatsApp, if they did
    template: Rendered | None = None  # outside the window: the template it goes as
    cannot: str | None = None  # outside the window: why no template can go instead

    @property
    def open(self) -> bool:
        return self.template is None and self.cannot is None

    @property
    def failure(self) -> str | None:
        """The reason the message fails with, when it does."""
        if self.cannot is None:
            return None
        return (
            "outside the WhatsApp 24-hour window when it was to be sent"
            f" ({last_wrote(self.last)}) and {self.cannot}"
        )


def verdict(
    store: Store,
    versions: Versions,
    message: MessageRecord,
    at: datetime,
    last: datetime | None,
    variant: str | None = None,
) -> Verdict:
    """Free text as written inside the window; else its step's template (its A/B variant's,
    `variant` or the message's), or why it fails."""
    if window_open(last, at):
        return Verdict(at, last)
    version = versions.get(message.sequence, message.version)
    step = version.model.step(message.step)
    variant = variant or message.variant
    if step is not None and variant and any(v.id == variant for v in step.variants):
        step = step.with_variant(variant)
    if step is None or step.spec.get("whatsapp_template") is None:
        return Verdict(at, last, cannot="the step has no whatsapp_template to fall back on")
    enrollment = store.enrollment(message.enrollment)
    contact = store.contact(message.contact)
    if enrollment is None or contact is None:
        return Verdict(at, last, cannot="its contact or enrollment is gone")
    enrolled = enrollment.enrolled_at
    variables = variables_for(
        version,
        step,
        enrollment.id,
        contact.fields(),
        enrollment.vars,
        enrolled,
        at,
    )
    try:
        rendered = whatsapp_template(step, message.to_address or "", variables)
    except render.RenderError as exc:
        return Verdict(at, last, cannot=f"its whatsapp_template fails: {exc}")
    return Verdict(at, last, template=rendered)


def leaving(
    store: Store, versions: Versions, now: datetime, rows: list[Deliverable]
) -> tuple[list[Deliverable], int]:
    """The messages of an outbox batch that may go now, and how many failed here.

    Free text whose window has closed is rewritten as its template (stored, then sent), or
    failed with the reason: the message `failed`, its enrollment failed at that step, as any
    other failure (`messages`, `enrollments`, the timeline and doctor show it).
    """
    texts = [r for r in rows if free_text(r.message.channel, r.extra)]
    if not texts:
        return rows, 0
    since = whatsapp_since(store, [r.message.contact for r in texts], now)
    changed: dict[int, Deliverable] = {}
    failed: list[tuple[Deliverable, str]] = []
    for row in texts:
        message = row.message
        variant = row.extra.get("variant")  # the outbox's rows name it in `extra` only
        last = since.get(message.contact)
        found = verdict(
            store, versions, message, now, last, variant if isinstance(variant, str) else None
        )
        if found.failure is not None:
            failed.append((row, found.failure))
        elif found.template is not None:
            extra = {**row.extra, **found.template.extra}
            body = found.template.body
            changed[message.id] = replace(
                row, message=replace(message, body=body), extra_json=json.dumps(extra)
            )
    if not changed and not failed:
        return rows, 0
    with store.transaction():
        for row in changed.values():
            store.rewrite_message(row.message.id, row.message.body, row.extra_json)
        for row, reason in failed:
            store.set_message_status([row.message.id], "failed", error=reason)
        live = store.enrollment_states([r.message.enrollment for r, _ in failed]) if failed else {}
        store.advance(
            [
                at_message_step(row, "failed", now, "failed", reason)
                for row, reason in failed
                if live.get(row.message.enrollment) == EnrollmentState.ACTIVE
            ]
        )
    gone = {row.message.id for row, _ in failed}
    kept = [changed.get(r.message.id, r) for r in rows if r.message.id not in gone]
    return kept, len(failed)
