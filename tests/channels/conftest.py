"""Real servers on 127.0.0.1 for the channel tests: aiosmtpd for SMTP, http.server for webhooks."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from seqctl.channels import Outgoing

MakeMessage = Callable[..., Outgoing]


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening on it (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def outgoing(number: int = 1, **fields: Any) -> Outgoing:
    """An email as the engine hands it to a channel; any field can be overridden."""
    values: dict[str, Any] = {
        "id": number,
        "idempotency_key": f"{number}:1:hello",
        "sequence": "welcome",
        "version": 1,
        "step": "hello",
        "contact": f"contact-{number}",
        "channel": "email",
        "to": f"contact{number}@example.com",
        "subject": "Hello there",
        "body": "Hi,\n\nJust checking in.\n",
        "sent_at": "2026-11-23T12:00:00Z",
        "extra": {},
    }
    values.update(fields)
    return Outgoing(**values)
