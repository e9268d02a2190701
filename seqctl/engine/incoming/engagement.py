"""What a contact did: the events a branch condition, a WhatsApp window or `channel: auto` reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from seqctl.store import Store
from seqctl.store.records import EventRecord

WHATSAPP_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Engagement:
    """A contact's events since an enrollment began, as seen at `now`."""

    now: datetime
    events: tuple[EventRecord, ...] = ()
    whatsapp_at: datetime | None = None  # their last message on WhatsApp, at or before `now`
    _sequence: str | None = field(default=None, repr=False)
    blocked: frozenset[str] = frozenset()  # the contact's addresses on the suppression list

    def happened(self, kind: str, step: str | None = None, days: float | None = None) -> bool:
        """Did an event of this kind happen (about this step, in the last `days` days)?"""
        since = self.now - timedelta(days=days) if days is not None else None
        for event in self.events:
            if event.type != kind or (step is not None and event.step != step):
                continue
            if since is None or event.at >= since:
                return True
        return False

    def functions(self) -> dict[str, Any]:
        """Names a branch `if:` may call: opened('hello'), clicked(days=3), replied(), ..."""
        return {
            "opened": lambda step=None, days=None: self.happened("open", step, days),
            "clicked": lambda step=None, days=None: self.happened("click", step, days),
            "replied": lambda step=None, days=None: self.happened("reply", step, days),
            "booked": lambda step=None, days=None: self.happened("meeting_booked", step, days),
        }

    def whatsapp_window_open(self) -> bool:
        """A free-form WhatsApp message is allowed within 24 hours of the contact's last one."""
        return window_open(self.whatsapp_at, self.now)


def window_open(last: datetime | None, at: datetime) -> bool:
    """Is WhatsApp's 24-hour window open at `at`, the contact having last written on WhatsApp
    at `last`? Only an inbound message on WhatsApp opens it: not an email reply, an open, a
    click, or a message of ours."""
    return last is not None and timedelta(0) <= at - last < WHATSAPP_WINDOW


def whatsapp_since(store: Store, contacts: Sequence[str], now: datetime) -> dict[str, datetime]:
    """When each of these contacts last wrote on WhatsApp, at or before `now` (if they did)."""
    return store.last_inbound_on(contacts, "whatsapp", now)


def engagement(
    store: Store,
    contact: str,
    sequence: str,
    since: datetime,
    now: datetime,
    addresses: Sequence[str] = (),
) -> Engagement:
    """Events of this contact about this sequence (or none in particular) since `since`; with
    `addresses` (for `channel: auto`), which of them are on the suppression list."""
    events = store.events(contact=contact, since=since, sequence=sequence)
    blocked = frozenset(store.suppressed(list(addresses))) if addresses else frozenset()
    wrote = whatsapp_since(store, [contact], now).get(contact)
    return Engagement(now, tuple(events), wrote, sequence, blocked)
