"""Channels that are down, said by every tick until they work again: which channel, why, how
many messages wait and when the next try is. Under cron a tick prints nothing when all is
well, so this is how a broken mail server or webhook gets noticed before the messages fail."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from seqctl.channels import ChannelSet
from seqctl.store import Store
from seqctl.timeutil import format_instant


@dataclass(frozen=True)
class ChannelTrouble:
    channel: str  # its name in seqctl.yaml's `channels` (`default` for the rest)
    waiting: int  # messages that wait for a next try
    next_try: datetime | None  # the first of their next tries
    error: str | None  # the latest error

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "next_try": format_instant(self.next_try)}

    def describe(self) -> str:
        """One line for stderr."""
        plural = "message waits" if self.waiting == 1 else "messages wait"
        when = "next try at the next tick"
        if self.next_try:
            when = f"next try at {format_instant(self.next_try)}"
        return (
            f"channel {self.channel} is failing: {self.error or 'unknown error'}; "
            f"{self.waiting:,} {plural}, {when}"
        )


def failing_channels(store: Store, channels: ChannelSet) -> list[ChannelTrouble]:
    """The channels with messages waiting after a temporary failure, one entry each."""
    found: dict[str, ChannelTrouble] = {}
    for row in store.failing_channels():
        name = channels.name_for(row.message_type)
        waiting, next_try, error = row.waiting, row.next_try, row.error
        seen = found.get(name)
        if seen is not None:  # two message types sent through `default`
            waiting += seen.waiting
            next_try = min(t for t in (next_try, seen.next_try) if t) if next_try else seen.next_try
            error = seen.error or error
        found[name] = ChannelTrouble(name, waiting, next_try, error)
    return [found[name] for name in sorted(found)]
