"""What happens when a step is due: a pure function of the version, the enrollment and the time."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from seqctl import render
from seqctl.engine.incoming.engagement import Engagement
from seqctl.engine.messages.content import Rendered, action_instructions, action_title, render_step
from seqctl.engine.outbox.routing import Undeliverable
from seqctl.engine.run.runtime import RunnableVersion
from seqctl.playbook.model import MESSAGE_TYPES, Step, StepType
from seqctl.store.records import DueRow
from seqctl.timeutil import format_instant


@dataclass(slots=True)
class DueEnrollment:
    """An enrollment whose step is due, with the contact fields it renders with."""

    id: int
    sequence: str
    version: int
    contact: str
    step: int
    anchor_at: datetime
    due_at: datetime
    vars: dict[str, Any]
    enrolled_at: datetime
    contact_fields: dict[str, Any]
    contact_zone: str | None

    @classmethod
    def from_due(cls, row: DueRow) -> DueEnrollment:
        """From a row of the store's due enrollments."""
        fields: dict[str, Any] = json.loads(row.attributes_json) if row.attributes_json else {}
        for name, value in (
            ("key", row.contact),
            ("email", row.email),
            ("phone", row.phone),
            ("timezone", row.timezone),
        ):
            if value is not None:
                fields[name] = value
        return cls(
            row.id,
            row.sequence,
            row.version,
            row.contact,
            row.step,
            row.anchor_at,
            row.next_due_at,
            json.loads(row.vars_json) if row.vars_json else {},
            row.enrolled_at,
            fields,
            row.timezone,
        )


class Kind(StrEnum):
    SEND = "send"  # an automatic message, sent now or held for approval
    ACTION = "action"  # a task for a person
    JUMP = "jump"  # a branch chose the next step
    FAIL = "fail"


@dataclass(slots=True)
class Outcome:
    kind: Kind
    step: Step
    message: Rendered | None = None
    next_index: int | None = None
    reason: str | None = None
    title: str | None = None
    instructions: str | None = None
    variant: str | None = None  # the A/B variant the message (or draft) was rendered from


def decide(
    version: RunnableVersion,
    due: DueEnrollment,
    now: datetime,
    engagement: Engagement | None = None,
) -> Outcome:
    """The outcome of the due step of one enrollment at `now`, given what the contact did."""
    step, variant = version.variant(version.steps[due.step], due.id)
    seen = engagement or Engagement(now)
    variables = variables_for(
        version,
        step,
        due.id,
        due.contact_fields,
        due.vars,
        due.enrolled_at,
        now,
    )
    try:
        if step.type is StepType.BRANCH:
            variables = {**variables, **seen.functions()}
            return Outcome(Kind.JUMP, step, next_index=branch_target(version, due.step, variables))
        if step.is_manual or step.type not in (*MESSAGE_TYPES, StepType.WEBHOOK):
            return Outcome(
                Kind.ACTION,
                step,
                title=action_title(step, due.contact_fields, variables),
                instructions=action_instructions(step, variables),
                variant=variant,
            )
        return Outcome(
            Kind.SEND,
            step,
            message=render_step(version, step, due.contact_fields, variables, seen),
            variant=variant,
        )
    except render.RenderError as exc:
        return Outcome(Kind.FAIL, step, reason=f"step '{step.id}': {exc}")
    except Undeliverable as exc:
        return Outcome(Kind.FAIL, step, reason=f"step '{step.id}': {exc}")


def variables_for(
    version: RunnableVersion,
    step: Step,
    enrollment_id: int | None,
    contact_fields: Mapping[str, Any],
    enrollment_vars: Mapping[str, Any],
    enrolled_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """The template variables of DESIGN.md: contact (and its target alias), sender, ..."""
    sender, sequence, step_vars = version.template_variables(step)
    return render.template_context(
        contact_fields,
        sender=sender,
        sequence=sequence,
        step=step_vars,
        enrollment={
            **enrollment_vars,
            "id": enrollment_id,
            "enrolled_at": format_instant(enrolled_at),
        },
        now=now,
        target=version.target,
    )


def branch_target(version: RunnableVersion, index: int, variables: Mapping[str, Any]) -> int:
    step = version.steps[index]
    chosen = (
        step.spec.get("then")
        if render.evaluate(str(step.spec["if"]), variables)
        else (step.spec.get("else"))
    )
    if chosen is None:
        return index + 1
    target = version.model.index(str(chosen))
    if target is None:
        raise render.RenderError(f"branch target '{chosen}' is not a step")
    return target
