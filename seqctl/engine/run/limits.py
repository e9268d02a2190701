"""Daily caps over a rolling 24 hours: per sequence (`limits.per_day`) and per mailbox."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from seqctl.engine.run.runtime import RunnableVersion
from seqctl.store import Store

DAY = timedelta(days=1)


class Limits:
    """Counts what was sent in the last 24 hours once per tick, then counts along in memory."""

    def __init__(self, store: Store, senders: Mapping[str, Any], now: datetime) -> None:
        self.store = store
        self.senders = senders
        self.now = now
        self.since = now - DAY
        self._used: dict[tuple[str, str], list[Any]] = {}  # (kind, name) -> [count, first sent]

    def admit(self, version: RunnableVersion, sender: str | None) -> tuple[str, datetime] | None:
        """None when one more message may go (and count it); else why not and when a slot frees."""
        caps: list[tuple[str, str, int]] = []
        per_day = (version.model.definition.get("limits") or {}).get("per_day")
        if per_day is not None:
            caps.append(("sequence", version.sequence, int(per_day)))
        mailbox = (self.senders.get(sender) or {}).get("per_day") if sender else None
        if mailbox is not None and sender is not None:
            caps.append(("sender", sender, int(mailbox)))
        for kind, name, cap in caps:
            count, first = self._count(kind, name)
            if count >= cap:
                frees = (first or self.now) + DAY
                what = f"sequence '{name}'" if kind == "sequence" else f"mailbox {name}"
                return f"daily limit of {cap} for {what} reached", frees
        for kind, name, _ in caps:
            entry = self._used[(kind, name)]
            entry[0] += 1
            entry[1] = entry[1] or self.now
        return None

    def _count(self, kind: str, name: str) -> tuple[int, datetime | None]:
        key = (kind, name)
        if key not in self._used:
            if kind == "sequence":
                sent = self.store.sent_since(self.since, sequence=name)
            else:
                sent = self.store.sent_since(self.since, sender=name)
            self._used[key] = [sent.count, sent.first_at]
        count, first = self._used[key]
        return int(count), first
