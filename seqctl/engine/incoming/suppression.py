"""The suppression list: opt-outs follow the address, not the contact key.

An unsubscribe, a hard bounce or a complaint suppresses an email address; a STOP by text
message (or an unsubscribe on SMS/WhatsApp) suppresses a phone number. Every contact key that
carries a suppressed address is refused by enroll and never messaged there by the tick, now and
later. Values are compared normalised (addresses.py). Entries by contact key (from before
this rule) are still honoured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seqctl.engine.incoming.addresses import (
    PHONE_CHANNELS,
    Kind,
    address_values,
    classify,
    country_of,
    normal_email,
    normal_phone,
    stop_text,
)
from seqctl.engine.run.advance import exit_enrollment
from seqctl.errors import InputError, NotFound
from seqctl.playbook.model import MESSAGE_TYPES, Step, StepType
from seqctl.store import Store
from seqctl.store.records import ContactRecord, Deliverable, MessageRecord, SuppressionRow
from seqctl.store.states import LIVE_STATES


@dataclass(frozen=True)
class Block:
    """Why a message must not go: the entry that matched and its reason."""

    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.value} is suppressed ({self.reason})"


class Checker:
    """Asks the list about messages and contacts; nothing is asked while the list is empty."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.active = store.has_suppressions()

    def message(
        self, contact: str, channel: str, to: str | None, country: str | None = None
    ) -> Block | None:
        """Why a message to this address (of this contact) must not go, or None."""
        if not self.active:
            return None
        return self._first([contact, *address_values(channel, to, country)])

    def contacts(self, contacts: Sequence[ContactRecord], needs: Needs) -> dict[str, Block]:
        """Of these contacts, those with a suppressed address the sequence would use."""
        if not self.active:
            return {}
        wanted = {c.key: [c.key, *needs.values(c)] for c in contacts}
        found = self.store.suppressed(list({v for vs in wanted.values() for v in vs}))
        blocks: dict[str, Block] = {}
        for contact in contacts:
            values = wanted[contact.key]
            hit = next((v for v in values if v in found), None)
            if hit is None:
                continue
            if needs.either and contact.key not in found and not needs.all_blocked(contact, found):
                continue  # channel: auto reaches them on an address that is not suppressed
            blocks[contact.key] = Block(hit, found[hit])
        return blocks

    def _first(self, values: list[str]) -> Block | None:
        found = self.store.suppressed(values)
        hit = next((v for v in values if v in found), None)
        return Block(hit, found[hit]) if hit is not None else None


@dataclass(frozen=True)
class Needs:
    """The addresses a sequence sends to: email and/or phone, from which contact fields."""

    email: str | None  # the contact field holding the address, or None when no step emails
    phone: str | None
    either: bool = False  # every message step is `channel: auto`: any address not suppressed

    @classmethod
    def of(cls, steps: Iterable[Step], definition: Mapping[str, Any]) -> Needs:
        fields = definition.get("contact_fields") or {}
        kinds: set[str] = set()
        channels = []
        for step in steps:
            if step.type not in MESSAGE_TYPES:
                continue
            channel = step.spec.get("channel") or str(step.type)
            channels.append(channel)
            kinds |= {"email", "phone"} if channel == "auto" else {_kind_of(channel)}
        return cls(
            str(fields.get("email", "email")) if "email" in kinds else None,
            str(fields.get("phone", "phone")) if "phone" in kinds else None,
            bool(channels) and all(c == "auto" for c in channels),
        )

    def all_blocked(self, contact: ContactRecord, found: Mapping[str, str]) -> bool:
        """Whether each address the contact has (email, phone) is suppressed."""
        data = contact.fields()
        groups = []
        if self.email and data.get(self.email):
            groups.append(address_values("email", str(data[self.email])))
        if self.phone and data.get(self.phone):
            groups.append(address_values("sms", str(data[self.phone]), country_of(data)))
        return all(any(v in found for v in group) for group in groups)

    def values(self, contact: ContactRecord) -> list[str]:
        data = contact.fields()
        values = []
        if self.email and data.get(self.email):
            values += address_values("email", str(data[self.email]))
        if self.phone and data.get(self.phone):
            values += address_values("sms", str(data[self.phone]), country_of(data))
        return values


def _kind_of(channel: str) -> str:
    return "email" if channel == StepType.EMAIL else "phone"


def contact_entries(
    contact: ContactRecord, reason: str, at: datetime, by: str | None
) -> list[SuppressionRow]:
    """Entries for every address of a contact (its email and phone)."""
    data = contact.fields()
    rows = []
    if contact.email and contact.email.strip():
        rows.append(SuppressionRow(normal_email(contact.email), Kind.EMAIL, reason, at, by))
    if contact.phone and contact.phone.strip():
        phone = normal_phone(contact.phone, country_of(data))
        rows.append(SuppressionRow(phone, Kind.PHONE, reason, at, by))
    return rows


def opt_out_entries(
    kind: str,
    data: Mapping[str, Any],
    contact: ContactRecord,
    message: MessageRecord | None,
    at: datetime,
) -> list[SuppressionRow]:
    """The entries an event adds: the address it is about, on the channel it came by.

    - unsubscribe: on the channel of `data.channel` or of the message it answers; on email the
      address the message went to (else the contact's email); on SMS/WhatsApp the phone; with
      no channel known, every address of the contact;
    - complaint (marked as spam), hard bounce: the email address (a bounce on SMS: the phone);
    - inbound: only a STOP word (`data.text`, `body` or `message`), for the phone it came from.
    """
    channel = data.get("channel") or (message.channel if message is not None else None)
    fields = contact.fields()
    if kind == "inbound":
        text = stop_text(data)
        if text is None:
            return []
        channel = channel or "sms"
        reason = f"opted out by {channel}: {text}"
    elif kind == "unsubscribe":
        reason = "unsubscribed" + (f" ({channel})" if channel else "")
    elif kind == "complaint":
        reason, channel = "complaint (marked as spam)", channel or "email"
    elif kind == "bounce" and str(data.get("kind", "hard")) == "hard":
        reason, channel = "hard bounce", channel or "email"
    else:
        return []
    by = f"contact {contact.key}" if kind != "bounce" else "bounce"
    if channel is None:
        return contact_entries(contact, reason, at, by)
    channel = str(channel)
    to = message.to_address if message is not None and message.channel == channel else None
    if channel in PHONE_CHANNELS:
        value = to or contact.phone
        country = country_of(fields)
        phone = normal_phone(value, country) if value else None
        return [SuppressionRow(phone, Kind.PHONE, reason, at, by)] if phone else []
    value = to or contact.email
    return [SuppressionRow(normal_email(value), Kind.EMAIL, reason, at, by)] if value else []


@dataclass
class Change:
    """What suppress or unsuppress did: values changed, and those that were already so."""

    changed: list[str]
    unchanged: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"changed": self.changed, "unchanged": self.unchanged}


def entries_for(
    store: Store, values: Iterable[str], *, reason: str, by: str | None, now: datetime
) -> list[SuppressionRow]:
    """List entries for values a person gave: addresses, phones, domains, or contact keys
    (which stand for the contact's addresses). InputError names a value that is none of them."""
    rows: list[SuppressionRow] = []
    for raw in values:
        if not raw.strip():
            continue
        found = classify(raw)
        if found is not None:
            value, kind = found
            rows.append(SuppressionRow(value, kind, reason, now, by))
            continue
        contact = store.contact(raw.strip())
        if contact is None:
            raise InputError(
                f"'{raw}' is not an email address, a domain (@acme.test), a phone number or a "
                "known contact key"
            )
        entries = contact_entries(contact, f"{reason} (contact {contact.key})", now, by)
        if not entries:
            raise InputError(f"contact '{contact.key}' has no email address or phone to suppress")
        rows.extend(entries)
    return rows


def suppress(
    store: Store, values: Iterable[str], *, reason: str, by: str | None, now: datetime
) -> Change:
    """Put addresses on the list (contact keys stand for their addresses)."""
    rows = entries_for(store, values, reason=reason, by=by, now=now)
    with store.transaction():
        before = set(store.suppressed([r.value for r in rows]))
        store.suppress(rows)
    values_in_order = list(dict.fromkeys(r.value for r in rows))
    return Change(
        [v for v in values_in_order if v not in before], [v for v in values_in_order if v in before]
    )


def unsuppress(
    store: Store, values: Iterable[str], *, reason: str | None, by: str | None, now: datetime
) -> Change:
    """Take addresses off the list, with who and why (kept in the list's history)."""
    wanted: list[str] = []
    for raw in values:
        if not raw.strip():
            continue
        found = classify(raw)
        if found is not None:
            value, _ = found
            wanted.append(value)
            continue
        contact = store.contact(raw.strip())
        if contact is None:
            wanted.append(raw.strip())  # perhaps an entry by contact key
            continue
        wanted += [raw.strip(), *(e.value for e in contact_entries(contact, "", now, by))]
    change = Change([], [])
    with store.transaction():
        for value in dict.fromkeys(wanted):
            lifted = store.unsuppress(value, at=now, by=by, reason=reason)
            (change.changed if lifted is not None else change.unchanged).append(value)
    if not change.changed and len(change.unchanged) == 1:
        raise NotFound(f"'{change.unchanged[0]}' is not on the suppression list")
    return change


def hold_back(store: Store, rows: list[Deliverable], now: datetime) -> list[Deliverable]:
    """The messages of an outbox batch that may go; the others are cancelled on the spot.

    Checked when a message leaves, not only when it was made: an address suppressed while the
    message waited (for an approval, a daily cap, a retry) stops it. Such a message is
    `cancelled` with the reason, and its enrollment exits as `suppressed`, never to be retried.
    """
    checker = Checker(store)
    if not checker.active or not rows:
        return rows
    kept: list[Deliverable] = []
    blocked: list[tuple[Deliverable, Block]] = []
    for row in rows:
        message = row.message
        country = None
        if message.channel in PHONE_CHANNELS and not (message.to_address or "").startswith("+"):
            contact = store.contact(message.contact)
            country = country_of(contact.fields()) if contact is not None else None
        found = checker.message(message.contact, message.channel, message.to_address, country)
        if found is None:
            kept.append(row)
        else:
            blocked.append((row, found))
    if blocked:
        with store.transaction():
            for row, found in blocked:
                store.set_message_status([row.message.id], "cancelled", error=str(found))
                enrollment = store.enrollment(row.message.enrollment)
                if enrollment is not None and enrollment.state in LIVE_STATES:
                    exit_enrollment(
                        store,
                        enrollment,
                        at=now,
                        reason="suppressed",
                        kind="exited",
                        detail=str(found),
                        step_id=row.message.step,
                    )
    return kept
