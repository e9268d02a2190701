"""What contacts do with a bench email: opens, clicks, replies and bounces, as an events file.

The file is what `seqctl events import` reads (JSON Lines: type, contact, at, sequence, id,
data), shaped like a mail provider's webhook log: each contact's events in time order, and a
few deliveries repeated with the same id, as providers retry them.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

SEED = 20261124
# Shares for a cold email: bounces of all sent; clicks and replies of those who opened.
HARD_BOUNCE = 0.012
SOFT_BOUNCE = 0.008
OPEN = 0.42
MORE_OPENS = 0.35  # an opener opens again (another device, a forward), once or twice
CLICK = 0.12
REPLY = 0.07
REPEATED = 0.01  # lines a provider delivers twice


@dataclass(frozen=True)
class Event:
    """One thing a contact did with the email."""

    type: str
    contact: str
    at: datetime
    data: dict[str, str] | None = None

    def line(self, sequence: str, event_id: str) -> str:
        """The event as a line of the file."""
        fields: dict[str, object] = {
            "type": self.type,
            "contact": self.contact,
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sequence": sequence,
            "id": event_id,
        }
        if self.data:
            fields["data"] = self.data
        return json.dumps(fields) + "\n"


@dataclass
class EventFile:
    """What was written: the counts an import of it must add up to."""

    lines: int = 0
    repeated: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    hard_bounces: int = 0

    @property
    def unique(self) -> int:
        return self.lines - self.repeated

    def add(self, event: Event, copies: int) -> None:
        self.lines += copies
        self.repeated += copies - 1
        self.by_type[event.type] += 1
        if event.type == "bounce" and event.data and event.data.get("kind") == "hard":
            self.hard_bounces += 1


def write_events(
    path: Path, keys: Iterable[str], *, sequence: str, sent_at: datetime, hours: float
) -> EventFile:
    """Events of each contact in keys, within `hours` after the email of sequence at sent_at."""
    rng = random.Random(SEED)
    written = EventFile()
    with path.open("w", encoding="utf-8") as handle:
        for key in keys:
            for event in _contact_events(rng, key, sent_at, timedelta(hours=hours)):
                copies = 2 if rng.random() < REPEATED else 1
                handle.write(event.line(sequence, f"evt-{written.unique:09d}") * copies)
                written.add(event, copies)
    return written


def _contact_events(
    rng: random.Random, key: str, sent_at: datetime, span: timedelta
) -> list[Event]:
    """One contact's events in time order: a bounce, or opens with perhaps a click and a reply."""
    draw = rng.random()
    if draw < HARD_BOUNCE + SOFT_BOUNCE:
        kind, code = ("hard", "550 5.1.1") if draw < HARD_BOUNCE else ("soft", "452 4.2.2")
        at = sent_at + timedelta(seconds=rng.uniform(2, 600))
        return [Event("bounce", key, at, {"kind": kind, "code": code})]
    if rng.random() >= OPEN:
        return []
    opened = sent_at + span * rng.uniform(0.01, 0.5)
    events = [Event("open", key, opened)]
    if rng.random() < MORE_OPENS:
        for _ in range(rng.randint(1, 2)):
            events.append(Event("open", key, opened + span * rng.uniform(0.0, 0.3)))
    if rng.random() < CLICK:
        clicked = opened + timedelta(seconds=rng.uniform(5, 300))
        events.append(Event("click", key, clicked, {"url": "https://acme.test/book-a-call"}))
    if rng.random() < REPLY:
        events.append(Event("reply", key, opened + span * rng.uniform(0.01, 0.2)))
    return sorted(events, key=lambda event: event.at)
