"""What a contact did: the events a branch condition, a WhatsApp window or `channel: auto` reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from seqctl.store import Store
from seqctl.store.records import EventRecord
from seqctl.timeutil import from_db

WHATSAPP_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Engagement:
    """A contact's events since an enrollment began, as seen at `now`."""

    now: datetime
    events: tuple[EventRecord, ...] = ()
    last_inbound: EventRecord | None = None
    _sequence: str | None = field(default=None, repr=False)
    blocked: frozenset[str] = frozenset()  # the contact's addresses on the suppression list

    def happened(self, kind: str, step: str | None = None, days: float | None = None) -> bool:
        """Did an event of this kind happen (about this step, in the last `days` days)?"""
        since = self.now - timedelta(days=days) if days is not None else None
        for event in self.events:
            if event.type != kind or (step is not None and event.step != step):
                continue
            at = from_db(event.at)
            if since is None or (at is not None and at >= since):
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

    def inbound_channel(self) -> str | None:
        if self.last_inbound is None:
            return None
        channel = self.last_inbound.data.get("channel")
        return str(channel) if channel else None

    def whatsapp_window_open(self) -> bool:
        """A free-form WhatsApp message is allowed within 24 hours of the contact's last one."""
        if self.last_inbound is None or self.inbound_channel() not in (None, "whatsapp"):
            return False
        at = from_db(self.last_inbound.at)
        return at is not None and self.now - at < WHATSAPP_WINDOW


def engagement(
    store: Store,
    contact: str,
    sequence: str,
    since: str,
    now: datetime,
    addresses: Sequence[str] = (),
) -> Engagement:
    """Events of this contact about this sequence (or none in particular) since `since`; with
    `addresses` (for `channel: auto`), which of them are on the suppression list."""
    events = store.events(contact=contact, since=since, sequence=sequence)
    blocked = frozenset(store.suppressed(list(addresses))) if addresses else frozenset()
    return Engagement(now, tuple(events), store.last_inbound(contact), sequence, blocked)
