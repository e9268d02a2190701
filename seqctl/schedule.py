"""When a step is due: waits, send windows, holidays and time zones (DESIGN.md, "Time").

Pure functions: no database, no clock. Every datetime in and out is timezone-aware; results are
in UTC, truncated to whole seconds. The engine calls `due_at` for every enrollment of a tick, so
the hot path is plain datetime arithmetic on zoneinfo zones with holidays cached per year.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

from seqctl.durations import Unit, Wait
from seqctl.timeutil import is_valid_zone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ALL_DAYS = frozenset(range(7))
_MON_FRI = frozenset(range(5))
_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
# No real calendar goes this long without an open day; past it the calendar itself is wrong
# (every date listed as closed, say) and looping on would hang the tick.
_SEARCH_DAYS = 3 * 366


@dataclass(frozen=True)
class Window:
    """A send window in local time: the days (0=Monday .. 6=Sunday) and hours [start, end)."""

    days: frozenset[int] = _ALL_DAYS
    start: time = time(0)
    end: time | None = None  # None is the end of the day, "24:00"

    def __post_init__(self) -> None:
        # An empty or inverted window would have no opening at all: refuse it here rather than
        # let a search for the next opening run out.
        if not self.days or not self.days <= _ALL_DAYS:
            raise ValueError("a send window needs at least one day among mon..sun")
        if self.end is not None and self.end <= self.start:
            raise ValueError(
                f"send window end {_hhmm(self.end)} must be after its start {_hhmm(self.start)}"
            )

    @classmethod
    def parse(cls, days: list[str] | None, start: str | None, end: str | None) -> Window:
        """Read `send_window` values: day names (default all seven), "HH:MM", end up to "24:00"."""
        if days is None:
            numbers = _ALL_DAYS
        else:
            unknown = [d for d in days if str(d).strip().lower() not in WEEKDAYS]
            if unknown:
                raise ValueError(f"unknown day {unknown[0]!r} in send window (use mon..sun)")
            numbers = frozenset(WEEKDAYS.index(str(d).strip().lower()) for d in days)
        opening = time(0) if start is None else _parse_hhmm(start, what="start")
        closing = None if end is None or end.strip() == "24:00" else _parse_hhmm(end, what="end")
        return cls(numbers, opening, closing)

    def contains(self, local_time: time) -> bool:
        """Whether a local wall-clock time is inside [start, end)."""
        return self.start <= local_time and (self.end is None or local_time < self.end)

    @property
    def hours(self) -> str:
        """The hours as written in a playbook: `09:00-18:00`."""
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"

    def __str__(self) -> str:
        return self.hours if self.days == _ALL_DAYS else f"{_day_ranges(self.days)} {self.hours}"


def _parse_hhmm(text: str, *, what: str) -> time:
    hours, sep, minutes = text.strip().partition(":")
    if sep and len(minutes) == 2 and hours.isdigit() and minutes.isdigit():
        if int(hours) < 24 and int(minutes) < 60:
            return time(int(hours), int(minutes))
    raise ValueError(f"send window {what} {text!r} is not a time such as '09:00'")


def _day_ranges(days: frozenset[int]) -> str:
    """`mon-fri`, `mon,wed,fri`, `mon-wed,sat`: runs of consecutive days as ranges."""
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ",".join(
        WEEKDAYS[r[0]] if len(r) == 1 else f"{WEEKDAYS[r[0]]}-{WEEKDAYS[r[-1]]}" for r in runs
    )


def _hhmm(value: time | None) -> str:
    return "24:00" if value is None else value.strftime("%H:%M")


@lru_cache(maxsize=1024)
def _public_holidays(country: str, subdivision: str | None, year: int) -> Mapping[date, str]:
    """A country's public holidays in one year, by date, with English names where known."""
    import holidays  # loaded when a calendar first needs public holidays

    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=year, language="en_US")
    except NotImplementedError:
        where = f"{country}-{subdivision}" if subdivision else country
        raise ValueError(f"no public holidays known for {where!r}") from None
    return MappingProxyType(dict(found))


@lru_cache(maxsize=4096)
def known_place(country: object, subdivision: object = None) -> tuple[str, str | None] | None:
    """A contact's (country, subdivision) as the holidays package knows them, upper case; None
    for a country it does not know. An unknown subdivision is dropped (the country's national
    holidays still apply). Cached: the tick asks it for every contact of such a sequence."""
    if not isinstance(country, str) or not country.strip():
        return None
    code = country.strip().upper()
    known = _supported()
    if code not in known:
        return None
    sub = subdivision.strip().upper() if isinstance(subdivision, str) else None
    return code, sub if sub in known[code] else None


@lru_cache(maxsize=1)
def _supported() -> Mapping[str, frozenset[str]]:
    import holidays

    listed: dict[str, list[str]] = holidays.list_supported_countries()
    return MappingProxyType(
        {code: frozenset(s.upper() for s in subs) for code, subs in listed.items()}
    )


@dataclass(frozen=True)
class Calendar:
    """Everything needed to say when a step may happen for one contact."""

    zone: ZoneInfo
    window: Window | None = None
    closed: frozenset[date] = frozenset()  # dates listed under `holidays.dates`
    country: str | None = None  # public holidays through the holidays package
    subdivision: str | None = None

    def holiday_name(self, d: date) -> str | None:
        """The public holiday on a local date, or None."""
        if self.country is None:
            return None
        return _public_holidays(self.country, self.subdivision, d.year).get(d)

    def is_holiday(self, d: date) -> bool:
        """Whether a local date is one of the country's public holidays."""
        if self.country is None:
            return False
        return d in _public_holidays(self.country, self.subdivision, d.year)

    def is_open_day(self, d: date, *, business: bool = False) -> bool:
        """Whether steps may happen on a local date: a window day, not a holiday or closed date."""
        if self.window is not None:
            days = self.window.days
        else:
            days = _MON_FRI if business else _ALL_DAYS
        return d.weekday() in days and d not in self.closed and not self.is_holiday(d)

    @property
    def always_open(self) -> bool:
        """No window and no holidays: open(t) is t itself."""
        return self.window is None and not self.closed and self.country is None


@lru_cache(maxsize=4096)
def _zone_or_utc(name: str | None) -> ZoneInfo:
    return ZoneInfo(name) if name is not None and is_valid_zone(name) else ZoneInfo("UTC")


def make_calendar(
    zone_name: str | None,
    *,
    window: Window | None = None,
    country: str | None = None,
    subdivision: str | None = None,
    dates: Iterable[str | date] = (),
) -> Calendar:
    """Build a Calendar; an unknown or missing zone means UTC, a bad country or date raises."""
    closed = set()
    for item in dates:
        if isinstance(item, datetime):
            closed.add(item.date())
        elif isinstance(item, date):
            closed.add(item)
        else:
            try:
                closed.add(date.fromisoformat(str(item).strip()))
            except ValueError:
                raise ValueError(
                    f"holiday date {item!r} is not a date such as '2026-12-24'"
                ) from None
    code = country.strip().upper() if country else None
    subdiv = subdivision.strip().upper() if subdivision else None
    if code is not None:
        _public_holidays(code, subdiv, 2026)  # fail now, at the playbook, not in a tick
    return Calendar(_zone_or_utc(zone_name), window, frozenset(closed), code, subdiv)


def pick_zone(
    contact_zone: str | None, sequence_zone: str | None, use_contact_timezone: bool = True
) -> str:
    """The zone: the contact's when valid (unless disabled), else the sequence's, else UTC."""
    if use_contact_timezone and contact_zone and _is_valid_zone(contact_zone):
        return contact_zone
    if sequence_zone and _is_valid_zone(sequence_zone):
        return sequence_zone
    return "UTC"


@lru_cache(maxsize=4096)
def _is_valid_zone(name: str) -> bool:
    # A million contacts share a few hundred zones; an invalid one costs a file lookup each time.
    return is_valid_zone(name)


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t.isoformat()}: schedule times must be timezone-aware")
    t = t.astimezone(UTC)
    # replace() costs more than the rest of a due time; stored times are whole seconds already.
    return t.replace(microsecond=0) if t.microsecond else t


def _wall_days_later(anchor: datetime, days: int, zone: ZoneInfo) -> datetime:
    """The same local wall-clock time `days` later; fold=0 takes the first occurrence of an
    ambiguous time and moves a nonexistent one forward by the gap (PEP 495)."""
    if days == 0:
        return anchor  # rebuilding the wall time could land on the other side of a fold
    # Adding to an aware datetime is wall-clock arithmetic, and the sum has fold=0.
    return (anchor.astimezone(zone) + timedelta(days=days)).astimezone(UTC)


def _next_open_day(d: date, cal: Calendar, *, business: bool = False) -> date:
    for _ in range(_SEARCH_DAYS):
        d += _ONE_DAY
        if cal.is_open_day(d, business=business):
            return d
    raise ValueError(
        f"no open day in the {_SEARCH_DAYS} days after {d - _SEARCH_DAYS * _ONE_DAY}: "
        "check the send window days and holiday dates"
    )


def add_wait(anchor: datetime, wait: Wait, cal: Calendar) -> datetime:
    """anchor + wait, before the window: minutes and hours elapse; days, weeks and business days
    keep the local wall-clock time."""
    return _add_wait(_utc(anchor), wait, cal)


def _add_wait(start: datetime, wait: Wait, cal: Calendar) -> datetime:
    if wait.unit is Unit.MINUTES:
        return start + timedelta(minutes=wait.amount)
    if wait.unit is Unit.HOURS:
        return start + timedelta(hours=wait.amount)
    if wait.unit is Unit.DAYS:
        return _wall_days_later(start, wait.amount, cal.zone)
    if wait.unit is Unit.WEEKS:
        return _wall_days_later(start, 7 * wait.amount, cal.zone)
    first = day = start.astimezone(cal.zone).date()
    for _ in range(wait.amount):
        day = _next_open_day(day, cal, business=True)
    return _wall_days_later(start, (day - first).days, cal.zone)


def _opening(d: date, window: Window, zone: ZoneInfo) -> datetime | None:
    """The first instant of local date d inside the window, or None when it has none that day."""
    wanted = datetime.combine(d, window.start, tzinfo=zone)
    first = wanted.astimezone(UTC)
    local = first.astimezone(zone)
    if local.date() != d or local.time() != window.start:
        # The start falls in a daylight-saving gap: the window opens when the clocks jump, which
        # lies between the two readings of the missing time. Only a few days a year get here.
        before = wanted.replace(fold=1).astimezone(UTC)
        offset = before.astimezone(zone).utcoffset()
        while first - before > _ONE_SECOND:
            middle = before + (first - before) / 2
            middle = middle.replace(microsecond=0)
            if middle.astimezone(zone).utcoffset() == offset:
                before = middle
            else:
                first = middle
        local = first.astimezone(zone)
        if local.date() != d or not window.contains(local.time()):
            return None
    return first


def open_at(t: datetime, cal: Calendar) -> datetime:
    """DESIGN's open(t): t when its local day is open and its local time in the window, else
    the next opening (today's start when t is before it)."""
    return _open_at(_utc(t), cal)


def _open_at(t: datetime, cal: Calendar) -> datetime:
    if cal.always_open:
        return t
    local = t.astimezone(cal.zone)
    day = local.date()
    window = cal.window
    if window is None:
        if cal.is_open_day(day):
            return t
        window = Window()  # without a window every day opens at 00:00
    elif cal.is_open_day(day):
        now = local.time()
        if window.contains(now):
            return t
        if now < window.start:
            opening = _opening(day, window, cal.zone)
            if opening is not None and opening < t:
                # t is in the repeated hour after the first reading of start: the window opens
                # at the second reading.
                second = datetime.combine(day, window.start, tzinfo=cal.zone).replace(fold=1)
                opening = second.astimezone(UTC)
            if opening is not None:
                return opening
    for _ in range(_SEARCH_DAYS):
        day = _next_open_day(day, cal)
        opening = _opening(day, window, cal.zone)
        if opening is not None:
            return opening
    raise ValueError(  # pragma: no cover  (_next_open_day gives up first in any real calendar)
        f"the send window {window} never opens after {t.isoformat()}"
    )


def due_at(anchor: datetime, wait: Wait | None, cal: Calendar) -> datetime:
    """When a step is due: open(anchor + wait); open(anchor) without a wait."""
    start = _utc(anchor)
    return _open_at(start if wait is None else _add_wait(start, wait, cal), cal)


def day_due(enrolled_at: datetime, day: int, cal: Calendar) -> datetime:
    """When a `day: N` step is due: the enrollment's local date + N-1 days, same wall time."""
    if day < 1:
        raise ValueError(f"day {day}: days are counted from 1, the day of the enrollment")
    return _open_at(_wall_days_later(_utc(enrolled_at), day - 1, cal.zone), cal)


@dataclass(frozen=True)
class Deferral:
    """Why a due time moved: reason is "window", "closed day", "holiday" or ""."""

    reason: str
    detail: str


def why_deferred(t: datetime, cal: Calendar) -> Deferral | None:
    """Explain why open(t) is later than t; None when t is open."""
    t = _utc(t)
    opening = _open_at(t, cal)
    if opening == t:
        return None
    local = t.astimezone(cal.zone)
    day, zone = local.date(), cal.zone.key
    name = cal.holiday_name(day)
    if name is not None:
        return Deferral("holiday", f"{day} is a public holiday ({name})")
    if day in cal.closed:
        return Deferral("closed day", f"{day} is a closed day listed in holidays.dates")
    window = cal.window
    if window is not None and day.weekday() not in window.days:
        return Deferral(
            "window",
            f"{_DAY_NAMES[day.weekday()]} {day} is not a sending day "
            f"(send window {window}, {zone})",
        )
    if window is not None:
        return Deferral(
            "window",
            f"{local:%H:%M} is outside the send window {window.hours} ({zone})",
        )
    return Deferral("", f"moved to the next opening at {opening.isoformat()}")  # pragma: no cover
