"""A row of a contact file: the contact read from it, or why it was refused.

The checks every format shares are here: no control character in a routing field, an email
that looks like one, a key (or the email, lowercased, in its place), a phone without letters, a
known time zone; and the error for a file that is not UTF-8.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Any, NamedTuple, TypeAlias
from zoneinfo import available_timezones

from seqctl.errors import InputError
from seqctl.store import ContactRow
from seqctl.timeutil import is_valid_zone

ROUTING = ("key", "email", "phone", "timezone")

# One @, a dot in the domain, no spaces or control characters: a sanity check, not RFC 5322.
_PART = r"[^@\s\x00-\x1f\x7f-\x9f]+"
_EMAIL = re.compile(_PART + "@" + _PART + r"\." + _PART)
_LETTER = re.compile(r"[^\W\d_]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class Parsed(NamedTuple):
    """A good row: the contact read from line `row`."""

    row: int
    contact: ContactRow
    size: int = 0  # characters, for a row on lines over BIG_LINE: batches of big rows are cut short


class Refusal(NamedTuple):
    """A bad row: its line number and why it was not imported."""

    row: int
    reason: str


ParsedRow: TypeAlias = Parsed | Refusal


def checked_row(
    row: int,
    key: str,
    email: str,
    phone: str,
    timezone: str,
    attributes: dict[str, Any],
    size: int = 0,
) -> ParsedRow:
    """Check the routing fields of one row; the key falls back to the email, lowercased.

    No control character (a NUL, a line break, an escape) may reach an address, a header or a
    terminal: the email pattern excludes them, the key and phone are looked at for them.
    """
    if email and not _EMAIL.fullmatch(email):
        return Refusal(row, f"invalid email {email!r}")
    if not key:
        if not email:
            return Refusal(row, "no key and no email")
        key = email.lower()
    elif not key.isprintable() and (problem := _control("key", key)):
        return Refusal(row, problem)
    if phone:
        if _LETTER.search(phone):
            return Refusal(row, f"invalid phone {phone!r}: it has letters")
        if not phone.isprintable() and (problem := _control("phone", phone)):
            return Refusal(row, problem)
    if timezone:
        problem = _zone_problem(timezone)
        if problem is not None:
            return Refusal(row, problem)
    contact = ContactRow(key, email or None, phone or None, timezone or None, attributes)
    return Parsed(row, contact, size)


def _control(name: str, value: str) -> str | None:
    """Why a routing field with a control character is refused (None: it has none)."""
    found = _CONTROL.search(value)
    if found is None:
        return None  # not printable for another reason (a no-break space): fine
    return f"{name} holds a control character (U+{ord(found.group()):04X})"


@lru_cache(maxsize=4096)
def _zone_problem(name: str) -> str | None:
    """None for a valid IANA zone; else why not. Cached: files repeat a handful of zones."""
    if is_valid_zone(name):
        return None
    known = _zone_names()
    by_case = {z.lower(): z for z in known}
    guess = by_case.get(name.lower()) or next(
        iter(difflib.get_close_matches(name, known, n=1, cutoff=0.7)), None
    )
    hint = f" (did you mean '{guess}'?)" if guess else ""
    return f"unknown time zone {name!r}{hint}"


@lru_cache(maxsize=1)
def _zone_names() -> list[str]:
    return sorted(available_timezones())


def not_utf8(name: str, line: int, exc: UnicodeDecodeError) -> InputError:
    """The error for a file that is not UTF-8 text, at the line where decoding failed."""
    return InputError(f"{name}:{line}: not UTF-8 text ({exc.reason}); save the file as UTF-8")
