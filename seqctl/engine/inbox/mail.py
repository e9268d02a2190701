"""One message from the mailbox, read into what the classifier and the matcher need.

Mail is untrusted and often broken: headers in unknown charsets, multiparts without their end,
bodies cut off because the message was too big to fetch whole. Everything here degrades to "not
there" instead of failing; only a message with no headers at all is refused (a `Skip`).
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import Message
from functools import cached_property

from seqctl.engine.inbox.dsn import DeliveryStatus, Original, notification
from seqctl.engine.inbox.headers import (
    addresses,
    date_of,
    first_address,
    first_id,
    header_fields,
    header_text,
    message_ids,
)
from seqctl.engine.inbox.text import body_text, new_text

_REPORT_TYPE = re.compile(r'report-type\s*=\s*"?([A-Za-z0-9._-]+)', re.IGNORECASE)


@dataclass(frozen=True)
class Skip:
    """A message that cannot be read as mail, and why."""

    reason: str


# The headers classify and match read; the others (Received, DKIM, ...) are not decoded.
READ_HEADERS = frozenset(
    ("from", "to", "cc", "delivered-to", "x-original-to", "subject", "date", "message-id",
     "in-reply-to", "references", "auto-submitted", "x-autoreply", "x-autorespond",
     "x-autoresponder", "x-auto-reply", "precedence", "x-precedence", "list-id",
     "list-unsubscribe")
)  # fmt: skip


@dataclass(frozen=True)
class Mail:
    """What seqctl reads of one message. The recipients, the text and a notification's parts
    are read when first asked for: most mail is matched on its headers alone."""

    raw: bytes = field(repr=False, compare=False)
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender: str | None  # the From address, lower case
    subject: str
    date: datetime | None
    headers: dict[str, str]  # lower-case name -> first value, decoded (READ_HEADERS only)
    report_type: str | None  # multipart/report's report-type ("" without one); else None
    truncated: bool = False

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @cached_property
    def recipients(self) -> tuple[str, ...]:
        """To, Cc, Delivered-To, X-Original-To."""
        return addresses(
            [self.headers.get(name, "") for name in ("to", "cc", "delivered-to", "x-original-to")]
        )

    @cached_property
    def message(self) -> Message:
        """The whole message, parts and all (parsed only when its body is needed)."""
        return email.message_from_bytes(self.raw, policy=policy.compat32)

    @cached_property
    def text(self) -> str:
        """The new text (quotes cut): the plain text, else the HTML's."""
        return new_text(body_text(self.message))

    @cached_property
    def _notification(self) -> tuple[tuple[DeliveryStatus, ...], Original]:
        return notification(self.message)

    @property
    def statuses(self) -> tuple[DeliveryStatus, ...]:
        """The recipient blocks of a delivery status notification."""
        return self._notification[0]

    @property
    def original(self) -> Original:
        """The headers of the message a notification returns."""
        return self._notification[1]


def parse_mail(raw: bytes, *, truncated: bool = False) -> Mail | Skip:
    """The message's facts; a Skip when it has no headers to read."""
    if not raw.strip():
        return Skip("empty message")
    fields = header_fields(raw)
    if not fields:
        return Skip("no headers: not a mail message")
    headers: dict[str, str] = {}
    content_type = ""
    for name, value in fields:
        key = name.lower()
        if key in READ_HEADERS and key not in headers:
            headers[key] = header_text(value)
        elif key == "content-type" and not content_type:
            content_type = value
    if not any(name in headers for name in ("from", "message-id", "date", "subject", "to")):
        return Skip("none of From, To, Subject, Date or Message-ID: not a mail message")
    return Mail(
        raw=raw,
        message_id=first_id(headers.get("message-id", "")),
        in_reply_to=message_ids(headers.get("in-reply-to", "")),
        references=message_ids(headers.get("references", "")),
        sender=first_address(headers.get("from", "")),
        subject=" ".join(headers.get("subject", "").split()),
        date=date_of(headers.get("date", "")),
        headers=headers,
        report_type=_report_type(content_type),
        truncated=truncated,
    )


def _report_type(content_type: str) -> str | None:
    """A multipart/report's report-type ("" when it names none); None for any other type."""
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/report":
        return None
    found = _REPORT_TYPE.search(params)
    return found.group(1).lower() if found else ""
