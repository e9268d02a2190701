"""The one small interface every channel implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)
class Outgoing:
    """A stored message on its way out."""

    id: int
    idempotency_key: str
    sequence: str
    version: int
    step: str
    contact: str
    channel: str
    to: str | None
    subject: str | None
    body: str | None
    sent_at: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "idempotency_key": self.idempotency_key,
            "sequence": self.sequence,
            "version": self.version,
            "step": self.step,
            "contact": self.contact,
            "channel": self.channel,
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "sent_at": self.sent_at,
        }
        data.update(self.extra)
        if "attachments" in data:  # bytes stay in memory; the JSON names them
            data["attachments"] = [
                {k: v for k, v in item.items() if k != "data"} for item in data["attachments"]
            ]
        return data


@dataclass(slots=True)
class Delivery:
    """What happened to one message: a provider id, or an error (temporary ones are retried)."""

    message_id: int
    provider_id: str | None = None
    error: str | None = None
    temporary: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class Channel(Protocol):
    name: str

    def send(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        """Deliver a batch; one Delivery per message, in order."""
        ...

    def delivered(self, keys: set[str]) -> set[str]:
        """Of these idempotency keys (in flight when a tick died), those already delivered."""
        ...

    def close(self) -> None: ...
