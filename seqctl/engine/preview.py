"""The schedule and messages a contact would get, without writing anything."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from seqctl import render
from seqctl.engine.content import action_instructions, render_step
from seqctl.engine.engagement import Engagement
from seqctl.engine.routing import Undeliverable, suppression_keys
from seqctl.engine.runtime import RunnableVersion, Versions
from seqctl.engine.steps import branch_target, variables_for
from seqctl.errors import Failed, InputError, NotFound
from seqctl.playbook.lint import lint_paths
from seqctl.playbook.model import MESSAGE_TYPES, StepType
from seqctl.store import ContactRecord, Store
from seqctl.timeutil import format_instant

MAX_STEPS = 200


def load_for_preview(
    store: Store, playbook: str, *, now: datetime | None = None
) -> RunnableVersion:
    """A playbook file (linted first) or, when no such file exists, a published sequence id."""
    path = Path(playbook)
    if not path.exists():
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
    blocked: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Each step's due time if every step were done the moment it is due, with its content.

    `blocked`: the contact's addresses on the suppression list (`channel: auto` avoids them).
    """
    zone = contact.get("timezone")
    anchor = start
    index = 0
    plan: list[dict[str, Any]] = []
    while index < len(version.steps) and len(plan) < MAX_STEPS:
        step = version.steps[index]
        due = version.due(index, anchor=anchor, enrolled_at=start, contact_zone=zone)
        assert due is not None
        entry: dict[str, Any] = {
            "step": step.id,
            "type": str(step.type),
            "mode": str(step.mode),
            "due_at": format_instant(due),
        }
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
                seen = Engagement(due, blocked=blocked)
                message = render_step(version, step, contact, context, seen)
                entry.update(
                    channel=message.channel,
                    to=message.to,
                    subject=message.subject,
                    body=message.body,
                )
                if message.why:
                    entry["channel_reason"] = message.why
            else:
                instructions = action_instructions(step, context)
                if instructions:
                    entry["instructions"] = instructions
        except (render.RenderError, Undeliverable) as exc:
            entry["error"] = str(exc)
        plan.append(entry)
        anchor = due
        index = next_index
    return plan


def blocked(store: Store, version: RunnableVersion, contact: ContactRecord) -> frozenset[str]:
    """The contact's addresses on the suppression list, which `channel: auto` steers around."""
    keys = suppression_keys(version.model.definition, contact.fields())
    return frozenset(store.suppressed(keys)) if keys and store.has_suppressions() else frozenset()
