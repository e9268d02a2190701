"""The schedule and messages a contact would get, without writing anything."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from seqctl import render
from seqctl.engine.incoming.engagement import WHATSAPP_WINDOW, Engagement, whatsapp_since
from seqctl.engine.messages.content import action_instructions, render_step
from seqctl.engine.messages.variants import shares
from seqctl.engine.outbox.routing import Undeliverable, suppression_keys
from seqctl.engine.run.runtime import RunnableVersion, Versions
from seqctl.engine.run.steps import branch_target, variables_for
from seqctl.engine.sequences.catalog import require_visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.errors import Failed, InputError, NotFound
from seqctl.playbook.lint import lint_paths
from seqctl.playbook.model import MESSAGE_TYPES, Step, StepType
from seqctl.store import ContactRecord, Store
from seqctl.timeutil import format_instant

MAX_STEPS = 200


def load_for_preview(
    store: Store, playbook: str, *, now: datetime | None = None, viewer: Viewer | None = None
) -> RunnableVersion:
    """A playbook file (linted first) or, when no such file exists, a published sequence id
    (one the viewer may see: a file is anyone's who can read it, as for publishing)."""
    path = Path(playbook)
    if not path.exists():
        require_visible(store, playbook, viewer)
        if store.sequence(playbook) is not None:
            return Versions(store).get(playbook)
        raise NotFound(f"{playbook}: no such playbook file or published sequence")
    if path.is_dir():
        raise InputError(f"{playbook}: a folder; preview one playbook file or sequence id")
    result = lint_paths([path], now=now)
    if result.errors or not result.sequences:
        count = len(result.errors)
        lines = [str(f) for f in result.errors]
        lines.append(f"cannot preview {playbook}: {count} error{'s' if count != 1 else ''}")
        raise Failed("\n".join(lines))
    _, model = result.sequences[0]
    return RunnableVersion(model.id, 0, model)


def preview(
    version: RunnableVersion,
    contact: dict[str, Any],
    *,
    start: datetime,
    variables: dict[str, Any] | None = None,
    enrollment: int | None = None,
    blocked: frozenset[str] = frozenset(),
    whatsapp_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Each step's due time if every step were done the moment it is due, with its content.

    An A/B-tested step says which variant the contact gets: the one its `enrollment` (in this
    sequence) draws, or the winner. Before the contact is enrolled nobody can tell: every
    variant is rendered, with its share. `blocked`: the contact's addresses on the suppression
    list (`channel: auto` avoids them). `whatsapp_at`: when the contact last wrote on WhatsApp;
    a WhatsApp step due within 24 hours of it is free text, any other its template, as the
    tick judges it when the message leaves.
    """
    zone = contact.get("timezone")
    place = version.place_of(contact)
    holidays = version.holidays_note(place)
    anchor = start
    index = 0
    plan: list[dict[str, Any]] = []
    while index < len(version.steps) and len(plan) < MAX_STEPS:
        step = version.steps[index]
        due = version.due(index, anchor=anchor, enrolled_at=start, contact_zone=zone, place=place)
        assert due is not None
        entry: dict[str, Any] = {
            "step": step.id,
            "type": str(step.type),
            "mode": str(step.mode),
            "due_at": format_instant(due),
        }
        if holidays is not None:
            entry["holidays"] = holidays
        context = variables_for(version, step, None, contact, variables or {}, start, due)
        next_index = version.after(index)
        try:
            if step.type is StepType.BRANCH:  # as if the contact had not engaged yet
                context = {**context, **Engagement(due).functions()}
                next_index = branch_target(version, index, context)
                entry["next"] = (
                    version.steps[next_index].id if next_index < len(version.steps) else None
                )
            elif not step.is_manual and (
                step.type in MESSAGE_TYPES or step.type is StepType.WEBHOOK
            ):
                seen = Engagement(due, blocked=blocked, whatsapp_at=whatsapp_at)
                shown, variant = version.variant(step, enrollment)
                if step.spec.get("variants"):
                    entry["variant"] = variant
                if step.spec.get("variants") and variant is None:
                    entry["variants"] = _every_variant(version, step, contact, context, seen)
                else:
                    message = render_step(version, shown, contact, context, seen)
                    entry.update(
                        channel=message.channel,
                        to=message.to,
                        subject=message.subject,
                        body=message.body,
                    )
                    if message.why:
                        entry["channel_reason"] = message.why
                    if message.channel == "whatsapp":
                        entry["whatsapp"] = _window_note(message.extra, whatsapp_at, due)
            else:
                step, _ = version.variant(step, enrollment)
                instructions = action_instructions(step, context)
                if instructions:
                    entry["instructions"] = instructions
        except (render.RenderError, Undeliverable) as exc:
            entry["error"] = str(exc)
        plan.append(entry)
        anchor = due
        index = next_index
    return plan


def _window_note(extra: dict[str, Any], last: datetime | None, due: datetime) -> str:
    """Free text or template, and why: the 24-hour window at the step's due time."""
    wrote = (
        f"they last wrote on WhatsApp at {format_instant(last)}"
        if last is not None
        else "they have not written on WhatsApp"
    )
    if "template" in extra:
        return f"template {extra['template']['name']}: outside the 24-hour window ({wrote})"
    assert last is not None
    closes = format_instant(last + WHATSAPP_WINDOW)
    return f"free text: inside the 24-hour window until {closes} ({wrote})"


def preview_for(
    store: Store,
    version: RunnableVersion,
    contact: ContactRecord,
    *,
    start: datetime,
    now: datetime,
) -> list[dict[str, Any]]:
    """`preview` for a stored contact, as the tick would see them: their enrollment in this
    sequence (its A/B variant), their suppressed addresses, and their last WhatsApp message."""
    enrolled = store.enrollments(sequence=version.sequence, contact=contact.key)
    return preview(
        version,
        contact.fields(),
        start=start,
        enrollment=max((e.id for e in enrolled), default=None),
        blocked=blocked(store, version, contact),
        whatsapp_at=whatsapp_since(store, [contact.key], now).get(contact.key),
    )


def blocked(store: Store, version: RunnableVersion, contact: ContactRecord) -> frozenset[str]:
    """The contact's addresses on the suppression list, which `channel: auto` steers around."""
    keys = suppression_keys(version.model.definition, contact.fields())
    return frozenset(store.suppressed(keys)) if keys and store.has_suppressions() else frozenset()


def _every_variant(
    version: RunnableVersion,
    step: Step,
    contact: dict[str, Any],
    context: dict[str, Any],
    seen: Engagement,
) -> list[dict[str, Any]]:
    """Each variant of a step rendered for the contact, with its share of the enrollments."""
    rendered = []
    for variant, share in shares(step).items():
        message = render_step(version, step.with_variant(variant), contact, context, seen)
        rendered.append(
            {
                "id": variant,
                "share": round(share, 3),
                "channel": message.channel,
                "to": message.to,
                "subject": message.subject,
                "body": message.body,
            }
        )
    return rendered
