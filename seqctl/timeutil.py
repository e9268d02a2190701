"""UTC instants: parsing `--now`, formatting for JSON and the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from seqctl.errors import InputError

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utcnow() -> datetime:
    """The real clock, truncated to the second (stored times are whole seconds)."""
    return datetime.now(UTC).replace(microsecond=0)


def parse_instant(text: str, *, default_zone: str = "UTC", what: str = "time") -> datetime:
    """Parse an ISO 8601 time (or date) into an aware UTC datetime.

    A time without an offset is read in `default_zone`; a bare date means its midnight.
    """
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(
            f"invalid {what} {text!r}: expected ISO 8601, for example 2026-11-23T09:00:00Z"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(default_zone))
    return value.astimezone(UTC).replace(microsecond=0)


@overload
def format_instant(value: datetime) -> str: ...
@overload
def format_instant(value: None) -> None: ...
@overload
def format_instant(value: datetime | None) -> str | None: ...


def format_instant(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, the one format of times in JSON and in the database."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        # In UTC first: a local time in the hour a clock goes back equals (and hashes like)
        # the same wall time an hour later, so it must not be looked up as it is.
        value = value.astimezone(UTC)
    return _utc_text(value)


@lru_cache(maxsize=4096)
def _utc_text(value: datetime) -> str:
    """Remembered: a tick formats the same few UTC times (now, the due times of contacts
    enrolled together) for every row, and a lookup costs a twentieth of formatting."""
    # isoformat is several times faster than strftime, and the tick formats every due time;
    # its first 19 characters are the time to the second (no fraction, no offset).
    return value.isoformat()[:19] + "Z"


@overload
def from_db(text: str) -> datetime: ...
@overload
def from_db(text: None) -> None: ...
@overload
def from_db(text: str | None) -> datetime | None: ...


def from_db(text: str | None) -> datetime | None:
    """Read a time written by format_instant: an aware UTC datetime."""
    if text is None:
        return None
    return datetime.fromisoformat(text)


def zone(name: str) -> ZoneInfo:
    """A time zone by IANA name; InputError when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {name!r}") from None


def is_valid_zone(name: object) -> bool:
    if not isinstance(name, str) or not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


ONE_SECOND = timedelta(seconds=1)
