"""Headers of untrusted mail read as text: encoded words, unknown charsets, raw 8-bit bytes,
addresses, Message-IDs and dates, each degrading to "not there" instead of failing."""

from __future__ import annotations

import email.errors
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.header import Header, decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:[ \t]*(.*)")
_ANGLED = re.compile(r"<([^<>\s]+)>")
_UNFOLD = re.compile(r"\r?\n(?=[ \t])")
_SMUGGLED = re.compile("[\udc80-\udcff]")
# The common forms of one address: "Name <a@b>", "<a@b>", "a@b"; anything else is parsed fully.
_ONE_ADDRESS = re.compile(
    r'(?:[^<>@,;"]*<\s*([^<>\s@,;"]+@[^<>\s@,;"]+)\s*>|\s*([^<>\s@,;"()]+@[^<>\s@,;"()]+))\s*'
)


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """The header fields of a message, unfolded, in order; [] when it starts with none.

    What the email package's parser does for the header, a fraction of its cost: most mail is
    matched on its headers and never parsed further. Bytes that are not ASCII are kept as
    surrogates, as that parser keeps them (header_text reads them as UTF-8).
    """
    end = _HEAD_END.search(raw)
    lines = (raw[: end.start()] if end else raw).split(b"\n")
    if lines and lines[0].startswith(b"From "):  # an mbox "From " line, not a field
        lines = lines[1:]
    fields: list[tuple[bytes, bytes]] = []
    for line in lines:
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if fields:  # a continuation: unfold
                name, value = fields[-1]
                fields[-1] = (name, value + b" " + line.strip())
            continue
        found = _FIELD.fullmatch(line)
        if found is None:
            break  # not a field: the header ends here, as the email package ends it
        fields.append((found.group(1), found.group(2).strip()))
    return [
        (name.decode("ascii"), value.decode("ascii", "surrogateescape")) for name, value in fields
    ]


def header_text(value: object) -> str:
    """A header's value as text: encoded words decoded, unknown charsets read as Latin-1."""
    if isinstance(value, Header):  # raw 8-bit bytes (UTF-8 headers, RFC 6532): unknown-8bit
        return "".join(
            chunk if isinstance(chunk, str) else decode(chunk, charset)
            for chunk, charset in decode_header(value)
        )
    raw = _UNFOLD.sub(" ", str(value))
    if _SMUGGLED.search(raw):  # raw 8-bit bytes, as the parser keeps them (surrogates)
        raw = decode(raw.encode("ascii", "surrogateescape"), "utf-8")
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
                parts.append(decode(chunk, charset))
        return "".join(parts)


def message_ids(value: str) -> tuple[str, ...]:
    """The ids in In-Reply-To or References, without their angle brackets."""
    return tuple(_ANGLED.findall(value))


def first_id(value: str) -> str | None:
    found = _ANGLED.search(value)
    if found is not None:
        return found.group(1)
    return value.strip() or None


def first_address(value: str) -> str | None:
    simple = _ONE_ADDRESS.fullmatch(value)
    if simple is not None:
        return (simple.group(1) or simple.group(2)).lower()
    found = addresses([value])
    return found[0] if found else None


def addresses(values: Iterable[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for _, address in getaddresses([v for v in values if v]):
        address = address.strip().lower()
        if "@" in address and address not in seen:
            seen.append(address)
    return tuple(seen)


def date_of(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def decode(data: bytes, charset: str | None) -> str:
    try:
        return data.decode(charset or "ascii")
    except (LookupError, UnicodeError):
        # An unknown or lying charset: UTF-8 when it is that, else byte for byte.
        try:
            return data.decode("utf-8")
        except UnicodeError:
            return data.decode("latin-1")
