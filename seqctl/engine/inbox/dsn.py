"""Delivery status notifications (RFC 3464): each recipient's status, and the headers of the
returned message, however the reporting server attached them."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import Message

from seqctl.engine.inbox.headers import addresses, first_id, header_text, message_ids
from seqctl.engine.inbox.text import part_text


@dataclass(frozen=True)
class DeliveryStatus:
    """One recipient's block of a delivery status notification (RFC 3464)."""

    recipient: str | None
    action: str | None
    status: str | None
    diagnostic: str | None


@dataclass(frozen=True)
class Original:
    """The headers of the message a notification is about, as attached to it."""

    message_id: str | None = None
    idempotency_key: str | None = None
    to: tuple[str, ...] = ()


def notification(message: Message) -> tuple[tuple[DeliveryStatus, ...], Original]:
    """The recipient blocks of a delivery-status part, and the headers of the attached original."""
    statuses: list[DeliveryStatus] = []
    original = Original()
    extra_ids: list[str] = []
    for part in _all_parts(message):
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/global-delivery-status"):
            blocks = _status_blocks(part)
            for block in blocks:
                extra_ids.extend(
                    message_ids(block.get("original-message-id", "") or "")
                    or message_ids(block.get("x-original-message-id", "") or "")
                )
                if "final-recipient" in block or "action" in block or "status" in block:
                    statuses.append(_status(block))
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/global-headers"):
            if original.message_id is None and original.idempotency_key is None:
                original = _original(part)
    if original.message_id is None and extra_ids:
        original = Original(extra_ids[0], original.idempotency_key, original.to)
    return tuple(statuses), original


def _all_parts(message: Message) -> Iterator[Message]:
    yield message
    payload = message.get_payload()
    if isinstance(payload, list) and message.get_content_type() != "message/rfc822":
        for part in payload:
            if isinstance(part, Message):
                yield from _all_parts(part)


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a delivery-status part, whichever way the parser left them."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [
            {k.lower(): header_text(v) for k, v in block.items()}
            for block in payload
            if isinstance(block, Message)
        ]
    text = part_text(part) if part.get("Content-Transfer-Encoding") else str(payload)
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n\s*\r?\n", text):
        fields = email.message_from_string(chunk.strip() + "\n", policy=policy.compat32)
        blocks.append({k.lower(): header_text(v) for k, v in fields.items()})
    return blocks


def _status(block: dict[str, str]) -> DeliveryStatus:
    recipient = block.get("final-recipient") or block.get("original-recipient") or ""
    address = recipient.split(";", 1)[-1].strip().strip("<>").lower() or None
    status = re.search(r"\b[245]\.\d{1,3}\.\d{1,3}\b", block.get("status", ""))
    diagnostic = " ".join(block.get("diagnostic-code", "").split()) or None
    return DeliveryStatus(
        address,
        (block.get("action") or "").strip().lower() or None,
        status.group(0) if status else None,
        diagnostic,
    )


def _original(part: Message) -> Original:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        headers = payload[0]
    else:
        text = part_text(part) if part.get("Content-Transfer-Encoding") else str(payload)
        headers = email.message_from_string(text, policy=policy.compat32)
    return Original(
        first_id(header_text(headers.get("Message-ID", ""))),
        " ".join(header_text(headers.get("X-Seqctl-Idempotency-Key", "")).split()) or None,
        addresses([header_text(headers.get("To", ""))]),
    )
