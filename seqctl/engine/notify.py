"""Tell sequence owners what needs them: one message per owner per tick, never one per event."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from seqctl.channels import ChannelSet, Outgoing, send_all
from seqctl.engine.runtime import Versions
from seqctl.store import Store
from seqctl.timeutil import format_instant

MARK = "notified"
LABELS = {"action": "due for a person", "reply": "replied", "meeting_booked": "booked a meeting"}


def notify_owners(
    store: Store, channels: ChannelSet, settings: Mapping[str, Any], now: datetime
) -> int:
    """Send each owner a digest of what happened since the last one; how many were sent."""
    until = format_instant(now) or ""
    last = store.last_history_id()
    seen = store.mark(MARK)
    if seen is None:  # the first run starts the record; nothing old is dug up
        with store.transaction():
            store.set_mark(MARK, str(last))
        return 0
    owners: dict[str, list[str]] = defaultdict(list)
    versions = Versions(store)
    for _, sequence, contact, kind, step, at in store.news_since(int(seen)):
        owner = versions.get(sequence).model.definition.get("owner") or settings.get("to")
        if owner:
            where = f"{sequence}/{step}" if step else sequence
            owners[str(owner)].append(f"- {at} {contact} {LABELS[kind]} ({where})")
    channel = channels.for_type(str(settings.get("channel", "email")))
    sent = 0
    for owner, lines in sorted(owners.items()):
        subject = f"seqctl: {len(lines)} {'things need' if len(lines) != 1 else 'thing needs'} you"
        body = "\n".join(
            [
                "Since your last digest:",
                "",
                *lines,
                "",
                "See them with: seqctl actions --due / seqctl timeline KEY",
            ]
        )
        message = Outgoing(
            0,
            f"notify:{owner}:{until}",
            "seqctl",
            0,
            "notify",
            owner,
            "email",
            owner,
            subject,
            body,
            until,
        )
        [delivery] = send_all(channel, [message])
        sent += delivery.ok
    with store.transaction():
        store.set_mark(MARK, str(last))
    return sent
