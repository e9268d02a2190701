"""One message from the mailbox, read into what the classifier and the matcher need.

Mail is untrusted and often broken: headers in unknown charsets, multiparts without their end,
bodies cut off because the message was too big to fetch whole. Everything here degrades to "not
there" instead of failing; only a message with no headers at all is refused (a `Skip`).
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import Header, decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from functools import cached_property
from html.parser import HTMLParser

# The new text of a message: enough for any out-of-office notice, never a whole thread.
MAX_TEXT = 20_000
_HEADERS_ONLY = BytesParser(policy=policy.compat32)
_ANGLED = re.compile(r"<([^<>\s]+)>")
_UNFOLD = re.compile(r"\r?\n(?=[ \t])")
_SMUGGLED = re.compile("[\udc80-\udcff]")
# The common forms of one address: "Name <a@b>", "<a@b>", "a@b"; anything else is parsed fully.
_ONE_ADDRESS = re.compile(
    r'(?:[^<>@,;"]*<\s*([^<>\s@,;"]+@[^<>\s@,;"]+)\s*>|\s*([^<>\s@,;"()]+@[^<>\s@,;"()]+))\s*'
)
# Where a reply's quotation of earlier mail starts, in the clients people use.
_QUOTE_START = re.compile(
    r"^(?:on .{0,200} wrote:|am .{0,200} schrieb .{0,100}:|em .{0,200} escreveu:"
    r"|el .{0,200} escribi[oó]:|le .{0,200} a [ée]crit ?:|-{2,} ?original message ?-{2,}"
    r"|-{2,} ?urspr[üu]ngliche nachricht ?-{2,}|-{2,} ?mensagem original ?-{2,}"
    r"|-{2,} ?mensaje original ?-{2,}|-{2,} ?forwarded message ?-{2,}|_{20,}"
    r"|(?:from|von|de|da): .{1,200}(?:\n|$)(?:sent|gesendet|enviado|envoy[ée]|inviato): )",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Skip:
    """A message that cannot be read as mail, and why."""

    reason: str


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


# The headers classify and match read; the others (Received, DKIM, ...) are not decoded.
READ_HEADERS = frozenset(
    ("from", "to", "cc", "delivered-to", "x-original-to", "subject", "date", "message-id",
     "in-reply-to", "references", "auto-submitted", "x-autoreply", "x-autorespond",
     "x-autoresponder", "x-auto-reply", "precedence", "x-precedence", "list-id")
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
        return _addresses(
            [self.headers.get(name, "") for name in ("to", "cc", "delivered-to", "x-original-to")]
        )

    @cached_property
    def message(self) -> Message:
        """The whole message, parts and all (parsed only when its body is needed)."""
        return email.message_from_bytes(self.raw, policy=policy.compat32)

    @cached_property
    def text(self) -> str:
        """The new text (quotes cut): the plain text, else the HTML's."""
        return new_text(_body_text(self.message))

    @cached_property
    def _notification(self) -> tuple[tuple[DeliveryStatus, ...], Original]:
        return _notification(self.message)

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
    message = _HEADERS_ONLY.parsebytes(raw, headersonly=True)
    if not message.keys():
        return Skip("no headers: not a mail message")
    headers: dict[str, str] = {}
    for name, value in message.raw_items():
        key = name.lower()
        if key in READ_HEADERS and key not in headers:
            headers[key] = header_text(value)
    if not any(name in headers for name in ("from", "message-id", "date", "subject", "to")):
        return Skip("none of From, To, Subject, Date or Message-ID: not a mail message")
    report_type = None
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type") or "").lower()
    return Mail(
        raw=raw,
        message_id=_first_id(headers.get("message-id", "")),
        in_reply_to=message_ids(headers.get("in-reply-to", "")),
        references=message_ids(headers.get("references", "")),
        sender=_first_address(headers.get("from", "")),
        subject=" ".join(headers.get("subject", "").split()),
        date=_date(headers.get("date", "")),
        headers=headers,
        report_type=report_type,
        truncated=truncated,
    )


def header_text(value: object) -> str:
    """A header's value as text: encoded words decoded, unknown charsets read as Latin-1."""
    if isinstance(value, Header):  # raw 8-bit bytes (UTF-8 headers, RFC 6532): unknown-8bit
        return "".join(
            chunk if isinstance(chunk, str) else _decode(chunk, charset)
            for chunk, charset in decode_header(value)
        )
    raw = _UNFOLD.sub(" ", str(value))
    if _SMUGGLED.search(raw):  # raw 8-bit bytes, as the parser keeps them (surrogates)
        raw = _decode(raw.encode("ascii", "surrogateescape"), "utf-8")
    if "=?" not in raw:
        return raw.strip()
    try:
        return str(make_header(decode_header(raw)))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        parts = []
        for chunk, charset in decode_header(raw):
            if isinstance(chunk, str):
                parts.append(chunk)
            else:
                parts.append(_decode(chunk, charset))
        return "".join(parts)


def message_ids(value: str) -> tuple[str, ...]:
    """The ids in In-Reply-To or References, without their angle brackets."""
    return tuple(_ANGLED.findall(value))


def _first_id(value: str) -> str | None:
    found = _ANGLED.search(value)
    if found is not None:
        return found.group(1)
    return value.strip() or None


def _first_address(value: str) -> str | None:
    simple = _ONE_ADDRESS.fullmatch(value)
    if simple is not None:
        return (simple.group(1) or simple.group(2)).lower()
    found = _addresses([value])
    return found[0] if found else None


def _addresses(values: Iterator[str] | list[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for _, address in getaddresses([v for v in values if v]):
        address = address.strip().lower()
        if "@" in address and address not in seen:
            seen.append(address)
    return tuple(seen)


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _decode(data: bytes, charset: str | None) -> str:
    try:
        return data.decode(charset or "ascii")
    except (LookupError, UnicodeError):
        # An unknown or lying charset: UTF-8 when it is that, else byte for byte.
        try:
            return data.decode("utf-8")
        except UnicodeError:
            return data.decode("latin-1")


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return _decode(payload, part.get_content_charset())


def _body_text(message: Message) -> str:
    """The first plain-text part that is not an attachment; else the first HTML part's text."""
    html: str | None = None
    for part in _parts(message):
        if part.get_content_maintype() == "multipart":
            continue
        if (part.get("Content-Disposition") or "").strip().lower().startswith("attachment"):
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            return _part_text(part)
        if kind == "text/html" and html is None:
            html = _part_text(part)
    return html_text(html) if html is not None else ""


def _parts(message: Message) -> Iterator[Message]:
    """The parts in order, not descending into attached messages (they are not its text)."""
    yield message
    if message.get_content_type() in ("message/rfc822", "message/delivery-status"):
        return
    payload = message.get_payload()
    if isinstance(payload, list):
        for part in payload:
            if isinstance(part, Message):
                yield from _parts(part)


def new_text(text: str) -> str:
    """What the writer wrote: quoted lines dropped, and everything from a quotation's start."""
    text = text[: MAX_TEXT * 4].replace("\r\n", "\n")
    start = _QUOTE_START.search(text)
    if start is not None and start.start() > 0:
        text = text[: start.start()]
    kept = [line for line in text.split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()[:MAX_TEXT]


class _Text(HTMLParser):
    """The visible text of HTML: no scripts or styles, no quoted replies, blocks on new lines."""

    _HIDDEN = frozenset(("script", "style", "head", "title", "blockquote"))
    _QUOTES = ("gmail_quote", "moz-cite-prefix", "divRplyFwdMsg", "yahoo_quoted")
    _BLOCKS = frozenset(("p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table"))
    _VOID = frozenset(("br", "img", "hr", "meta", "link", "input", "col", "wbr", "source"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.open: list[tuple[str, bool]] = []  # (tag, hides what is inside)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self.chunks.append("\n")
        if tag in self._VOID:
            return
        marks = " ".join(value or "" for name, value in attrs if name in ("class", "id"))
        hides = tag in self._HIDDEN or any(quote in marks for quote in self._QUOTES)
        self.open.append((tag, hides))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BLOCKS:
            self.chunks.append("\n")
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        if not any(hides for _, hides in self.open):
            self.chunks.append(data)


def html_text(html: str) -> str:
    """The text a person sees in an HTML body."""
    parser = _Text()
    try:
        parser.feed(html[: MAX_TEXT * 10])
        parser.close()
    except (AssertionError, ValueError):  # HTMLParser on hopeless markup
        pass
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).split("\n"))
    return "\n".join(line for line in lines if line)


def _notification(message: Message) -> tuple[tuple[DeliveryStatus, ...], Original]:
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
    text = _part_text(part) if part.get("Content-Transfer-Encoding") else str(payload)
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
        text = _part_text(part) if part.get("Content-Transfer-Encoding") else str(payload)
        headers = email.message_from_string(text, policy=policy.compat32)
    return Original(
        _first_id(header_text(headers.get("Message-ID", ""))),
        " ".join(header_text(headers.get("X-Seqctl-Idempotency-Key", "")).split()) or None,
        _addresses([header_text(headers.get("To", ""))]),
    )
