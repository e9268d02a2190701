"""A step's content for one contact: the message rendered for its channel and address, or the
title and instructions a person sees for an action.

What the contact did (the engagement) is read by the caller; with `channel: auto` it picks the
channel, and it says whether WhatsApp's 24-hour window is open.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from seqctl import render
from seqctl.engine.incoming.engagement import Engagement
from seqctl.engine.messages import compose as composing
from seqctl.engine.outbox import attachments
from seqctl.engine.outbox.routing import Undeliverable, route
from seqctl.engine.run.runtime import RunnableVersion
from seqctl.playbook.model import Step, StepType


@dataclass(slots=True)
class Rendered:
    """A message rendered for one contact, ready for the outbox."""

    channel: str
    to: str | None
    subject: str | None
    body: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    why: str | None = None  # channel: auto says why it chose this channel (preview, doctor)


def render_step(
    version: RunnableVersion,
    step: Step,
    contact_fields: Mapping[str, Any],
    variables: Mapping[str, Any],
    engagement: Engagement | None = None,
) -> Rendered:
    """Render a message step; RenderError for a missing variable, Undeliverable for no address."""
    seen = engagement or Engagement(datetime.now(UTC))
    if step.type is StepType.WEBHOOK:
        payload = step.spec.get("payload")
        body = (
            json.dumps(_render_data(payload, variables), sort_keys=True)
            if payload is not None
            else _body(step, variables)
        )
        url = step.spec.get("url")
        return Rendered(
            str(step.type), render.render(str(url), variables) if url else None, None, body
        )
    routed = route(version.model.definition, step, contact_fields, seen)
    kind, to = routed.kind, routed.to
    if kind is StepType.WHATSAPP and not seen.whatsapp_window_open():
        rendered = whatsapp_template(step, to, variables)
        rendered.why = routed.why
        return rendered
    subject = _text(step, "subject", variables) if kind is StepType.EMAIL else None
    body = _body(step, variables)
    compose = step.spec.get("compose")
    if compose is not None:
        subject, body = composing.compose(compose, step, variables, subject=subject, draft=body)
    if subject is not None:
        subject = " ".join(subject.splitlines()).strip()  # a header is one line, always
    extra: dict[str, Any] = {}
    sender = version.step_variables(step)[0]  # one dict per version: its JSON is made once
    if sender and kind is StepType.EMAIL:
        extra["from"] = sender
    if step.spec.get("html") and kind is StepType.EMAIL:
        extra["html"] = render.render(str(step.spec["html"]), variables, html=True)
    if step.spec.get("attachments") and kind is StepType.EMAIL:
        extra["attachments"] = [dict(a) for a in step.spec["attachments"]]
        problem = attachments.refused(extra)
        if problem is not None:
            raise Undeliverable(problem)
    return Rendered(str(kind), to, subject, body, extra, routed.why)


def whatsapp_template(step: Step, to: str, variables: Mapping[str, Any]) -> Rendered:
    """Outside WhatsApp's 24-hour window only an approved template may be sent."""
    template = step.spec.get("whatsapp_template")
    if template is None:
        raise Undeliverable(
            "outside the WhatsApp 24-hour window and the step has no "
            "whatsapp_template to fall back on"
        )
    params = [render.render(str(p), variables) for p in template.get("params", [])]
    body = f"[template {template['name']} ({template['language']})] " + " | ".join(params)
    return Rendered(
        "whatsapp",
        to,
        None,
        body,
        {
            "template": {
                "name": template["name"],
                "language": template["language"],
                "params": params,
            }
        },
    )


def _render_data(value: Any, variables: Mapping[str, Any]) -> Any:
    """A webhook payload with every string in it rendered as a template."""
    if isinstance(value, str):
        return render.render(value, variables)
    if isinstance(value, Mapping):
        return {k: _render_data(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_data(v, variables) for v in value]
    return value


_VERBS = {
    StepType.CALL: "Call",
    StepType.TASK: "Task for",
    StepType.EMAIL: "Email",
    StepType.SMS: "Text",
    StepType.WHATSAPP: "WhatsApp",
    StepType.TELEGRAM: "Message",
}


def action_title(step: Step, contact: Mapping[str, Any], variables: Mapping[str, Any]) -> str:
    """What a person sees in the task queue: the step's name, else "Call Maria Santos"."""
    named = _text(step, "name", variables)
    if named:
        return named
    person = " ".join(str(contact[k]) for k in ("first_name", "last_name") if contact.get(k))
    who = person or contact.get("email") or contact.get("phone") or contact.get("key")
    return f"{_VERBS.get(step.type, str(step.type).capitalize())} {who}"


def action_instructions(step: Step, variables: Mapping[str, Any]) -> str | None:
    """What a person reads in the task queue; a manual message carries its rendered draft."""
    instructions = _text(step, "instructions", variables)
    if not step.is_message:
        return instructions
    subject = _text(step, "subject", variables) if step.type is StepType.EMAIL else None
    draft = "\n\n".join(
        x for x in (f"Subject: {subject}" if subject else None, _body(step, variables)) if x
    )
    return (
        "\n\n".join(x for x in (instructions, f"Draft:\n{draft}" if draft else None) if x) or None
    )


def _body(step: Step, variables: Mapping[str, Any]) -> str | None:
    source = step.spec.get("body", step.spec.get("template_source"))
    return render.render(str(source), variables) if source is not None else None


def _text(step: Step, key: str, variables: Mapping[str, Any]) -> str | None:
    source = step.spec.get(key)
    return render.render(str(source), variables) if source is not None else None
