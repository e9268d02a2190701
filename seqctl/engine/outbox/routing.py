"""Which channel and address a message step goes to, and why: `channel: auto` picks one the
contact can be reached on.

`channel: auto` tries, in this order, and takes the first that is possible:

1. WhatsApp, when the contact wrote on WhatsApp in the last 24 hours (its window is open);
2. email, to the contact's address;
3. SMS, to the contact's phone.

A channel is not possible when the contact has no address for it, or when that address is on
the suppression list (an email address also by its domain). Outside its window WhatsApp is not
tried: free text may not go, and SMS reaches the same phone. When no channel is possible, the
step fails with the reason of each. A fixed channel (the step's type, or `channel: email|sms|...`)
is used as it is: no address fails the step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seqctl.engine.incoming.addresses import address_values, country_of
from seqctl.engine.incoming.engagement import Engagement
from seqctl.playbook.model import Step, StepType

AUTO = "auto"
ADDRESS_FIELD = {  # the contact field each channel sends to
    StepType.EMAIL: "email",
    StepType.SMS: "phone",
    StepType.WHATSAPP: "phone",
    StepType.TELEGRAM: "phone",
}


class Undeliverable(Exception):
    """The contact lacks what the channel needs (no email address, no phone)."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message goes: its channel, address, and (for `channel: auto`) why that one."""

    kind: StepType
    to: str
    why: str | None = None


def addresses(definition: Mapping[str, Any], contact: Mapping[str, Any]) -> tuple[Any, Any]:
    """The contact's email and phone, read from the fields the playbook names."""
    fields = definition.get("contact_fields") or {}
    return contact.get(fields.get("email", "email")), contact.get(fields.get("phone", "phone"))


def suppression_keys(definition: Mapping[str, Any], contact: Mapping[str, Any]) -> list[str]:
    """The suppression list values that would block the contact's addresses (email, its
    domain, phone in E.164): what the tick looks up before choosing for `channel: auto`."""
    email, phone = addresses(definition, contact)
    country = country_of(contact)
    return address_values("email", str(email) if email else None) + address_values(
        "sms", str(phone) if phone else None, country
    )


def auto_suppression_keys(
    definition: Mapping[str, Any], step: Step, contact: Mapping[str, Any]
) -> list[str]:
    """suppression_keys for a `channel: auto` step; none for any other step."""
    return suppression_keys(definition, contact) if step.spec.get("channel") == AUTO else []


def route(
    definition: Mapping[str, Any],
    step: Step,
    contact: Mapping[str, Any],
    seen: Engagement,
) -> Route:
    """The channel and address of a message step for this contact; Undeliverable if none."""
    email, phone = addresses(definition, contact)
    chosen = step.spec.get("channel")
    if chosen == AUTO:
        fields = definition.get("contact_fields") or {}
        names = (fields.get("email", "email address"), fields.get("phone", "phone"))
        return _auto(email, phone, seen, names, country_of(contact))
    kind = StepType(chosen) if chosen else step.type
    address = email if kind is StepType.EMAIL else phone
    if not address:
        fields = definition.get("contact_fields") or {}
        name = fields.get(ADDRESS_FIELD[kind], ADDRESS_FIELD[kind])
        raise Undeliverable(f"contact has no {name} for a {kind} step")
    return Route(kind, str(address))


def _auto(
    email: Any, phone: Any, seen: Engagement, names: tuple[str, str], country: str | None
) -> Route:
    blocked = seen.blocked
    mail = str(email).strip() if email else ""
    number = str(phone).strip() if phone else ""
    reasons: list[str] = []

    def usable(channel: str, address: str, field: str) -> bool:
        if not address:
            reasons.append(f"{channel}: no {field}")
            return False
        hit = next((b for b in address_values(channel, address, country) if b in blocked), None)
        if hit is not None:
            reasons.append(f"{channel}: {hit} is suppressed")
            return False
        return True

    def why(chosen: str) -> str:
        passed = f" ({'; '.join(reasons)})" if reasons else ""
        return f"channel auto chose {chosen}{passed}"

    window = seen.whatsapp_window_open()
    if not window:
        reasons.append("whatsapp: they have not written on WhatsApp in the last 24 hours")
    elif usable("whatsapp", number, names[1]):
        return Route(StepType.WHATSAPP, number, why("whatsapp: they wrote on it within 24 hours"))
    if usable("email", mail, names[0]):
        return Route(StepType.EMAIL, mail, why("email"))
    if usable("sms", number, names[1]):
        return Route(StepType.SMS, number, why("sms"))
    raise Undeliverable(f"channel auto found no way to reach the contact ({'; '.join(reasons)})")
