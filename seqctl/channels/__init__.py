"""Channels: how a message leaves. Chosen per message type from seqctl.yaml; the file by default."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from seqctl.channels.base import (
    Channel,
    Delivery,
    Flow,
    Journal,
    Outgoing,
    Progress,
    Streaming,
    send_all,
)
from seqctl.channels.file import FileChannel
from seqctl.durations import DurationError, Unit, parse_wait
from seqctl.errors import ConfigError

__all__ = [
    "Channel",
    "ChannelSet",
    "Delivery",
    "FileChannel",
    "Flow",
    "Journal",
    "Outgoing",
    "Progress",
    "Streaming",
    "send_all",
]

DEFAULT_RETRY_FOR = "6 hours"  # how long a message is retried after its first failure
_UNIT_SPAN = {
    Unit.MINUTES: timedelta(minutes=1),
    Unit.HOURS: timedelta(hours=1),
    Unit.DAYS: timedelta(days=1),
    Unit.WEEKS: timedelta(weeks=1),
}


class ChannelSet:
    """The channel for each message type: `channels.<type>`, else `channels.default`, else file."""

    def __init__(
        self,
        config: Mapping[str, Any],
        outbox: Path,
        *,
        tracking: Any | None = None,
        unsubscribe_signer: Callable[[int], str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        # The time mail is dated with: the real clock, or the one --now gives (a replay).
        self.clock = clock
        self.outbox = outbox
        self.tracking = tracking  # open and click tracking for HTML mail, when configured
        # The signed token of a message's one-click unsubscribe link (`{token}`), when a key is set.
        self.unsubscribe_signer = unsubscribe_signer
        self._open: dict[str, Channel] = {}

    def name_for(self, message_type: str) -> str:
        """The name in `channels` that sends this message type (`default` for the rest)."""
        return message_type if message_type in self.config else "default"

    def for_type(self, message_type: str) -> Channel:
        name = self.name_for(message_type)
        if name not in self._open:
            self._open[name] = self._build(name, self.config.get(name))
        return self._open[name]

    def retry_for(self, message_type: str) -> timedelta:
        """How long a failing message of this type is retried (`retry_for`, 6 hours)."""
        name = self.name_for(message_type)
        text = self.retry_for_text(message_type)
        try:
            wait = parse_wait(text)
        except DurationError as exc:
            raise ConfigError(f"channels.{name}.retry_for: {exc.message}") from None
        if wait.unit not in _UNIT_SPAN:
            raise ConfigError(f"channels.{name}.retry_for: minutes, hours, days or weeks")
        return wait.amount * _UNIT_SPAN[wait.unit]

    def retry_for_text(self, message_type: str) -> str:
        spec = self.config.get(self.name_for(message_type)) or {}
        return str(spec.get("retry_for", DEFAULT_RETRY_FOR))

    def knows_delivered(self, message_type: str) -> bool:
        """Whether the channel of this type can say what it already has (the file channel):
        its messages are marked `sending` a batch at a time, the others one by one."""
        name = self.name_for(message_type)
        if name in self._open:
            return self._open[name].knows_delivered
        spec = self.config.get(name)
        return spec is None or spec.get("kind") == "file"

    def _build(self, name: str, spec: Mapping[str, Any] | None) -> Channel:
        if spec is None:
            return FileChannel(self.outbox)
        kind = spec.get("kind")
        if kind == "file":
            # Relative to the database, as the outbox is: the same files whatever folder cron
            # runs the tick from.
            path = Path(spec["path"]) if "path" in spec else self.outbox
            return FileChannel(path if path.is_absolute() else self.outbox.parent / path, name)
        # Imported when configured: most ticks never load smtplib, ssl or http.client.
        if kind == "smtp":
            from seqctl.channels.smtp import SmtpChannel

            return SmtpChannel(spec, name=name, signer=self.unsubscribe_signer, clock=self.clock)
        if kind == "webhook":
            from seqctl.channels.webhook import WebhookChannel

            return WebhookChannel(spec, name=name)
        raise ConfigError(f"channels.{name}: kind '{kind}' is not supported by this version")

    def close(self) -> None:
        for channel in self._open.values():
            channel.close()
        self._open.clear()
