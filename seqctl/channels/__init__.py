"""Channels: how a message leaves. Chosen per message type from seqctl.yaml; the file by default."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from seqctl.channels.base import Channel, Delivery, Outgoing
from seqctl.channels.file import FileChannel
from seqctl.errors import ConfigError

__all__ = ["Channel", "ChannelSet", "Delivery", "FileChannel", "Outgoing"]


class ChannelSet:
    """The channel for each message type: `channels.<type>`, else `channels.default`, else file."""

    def __init__(
        self,
        config: Mapping[str, Any],
        outbox: Path,
        *,
        tracking: Any | None = None,
        unsubscribe_signer: Callable[[int], str] | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.tracking = tracking  # open and click tracking for HTML mail, when configured
        # The signed token of a message's one-click unsubscribe link (`{token}`), when a key is set.
        self.unsubscribe_signer = unsubscribe_signer
        self._open: dict[str, Channel] = {}

    def for_type(self, message_type: str) -> Channel:
        name = message_type if message_type in self.config else "default"
        if name not in self._open:
            self._open[name] = self._build(name, self.config.get(name))
        return self._open[name]

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

            return SmtpChannel(spec, name=name, signer=self.unsubscribe_signer)
        if kind == "webhook":
            from seqctl.channels.webhook import WebhookChannel

            return WebhookChannel(spec, name=name)
        raise ConfigError(f"channels.{name}: kind '{kind}' is not supported by this version")

    def close(self) -> None:
        for channel in self._open.values():
            channel.close()
        self._open.clear()
