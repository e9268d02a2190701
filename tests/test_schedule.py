"""When steps are due: waits across daylight saving, send windows, holidays, business days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqctl.durations import Unit, Wait
from seqctl.schedule import (
    Calendar,
    Deferral,
    Window,
    add_wait,
    day_due,
    due_at,
    make_calendar,
    open_at,
    pick_zone,
    why_deferred,
)

NY = "America/New_York"
SAO_PAULO = "America/Sao_Paulo"
BERLIN = "Europe/Berlin"
OFFICE_HOURS = Window.parse(["mon", "tue", "wed", "thu", "fri"], "09:00", "18:00")


def local(
    zone: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, *, fold: int = 0
) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=ZoneInfo(zone), fold=fold)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def wall(t: datetime, zone: str) -> str:
    return t.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


# --- waits across daylight saving -------------------------------------------------------------


def test_hours_are_elapsed_time_across_the_fall_back() -> None:
    cal = make_calendar(NY)
    due = due_at(local(NY, 2026, 11, 1, 0, 30), Wait(2, Unit.HOURS), cal)
    assert due == utc(2026, 11, 1, 6, 30)
    assert wall(due, NY) == "Sun 2026-11-01 01:30 EST"  # two real hours, the clock shows one


def test_minutes_are_elapsed_time_across_the_spring_gap() -> None:
    cal = make_calendar(NY)
    due = due_at(local(NY, 2026, 3, 8, 1, 45), Wait(30, Unit.MINUTES), cal)
    assert wall(due, NY) == "Sun 2026-03-08 03:15 EDT"


def test_days_keep_the_wall_clock_across_the_us_fall_back() -> None:
    cal = make_calendar(NY)
    due = due_at(local(NY, 2026, 10, 31, 10, 0), Wait(1, Unit.DAYS), cal)
    assert wall(due, NY) == "Sun 2026-11-01 10:00 EST"
    assert due - local(NY, 2026, 10, 31, 10, 0) == timedelta(hours=25)


def test_weeks_keep_the_wall_clock_across_the_us_fall_back() -> None:
    cal = make_calendar(NY)
    due = due_at(local(NY, 2026, 10, 28, 9, 0), Wait(1, Unit.WEEKS), cal)
    assert wall(due, NY) == "Wed 2026-11-04 09:00 EST"


def test_days_keep_the_wall_clock_across_the_european_change() -> None:
    cal = make_calendar(BERLIN)
    due = due_at(local(BERLIN, 2026, 10, 24, 9, 0), Wait(3, Unit.DAYS), cal)
    assert wall(due, BERLIN) == "Tue 2026-10-27 09:00 CET"
    assert due == utc(2026, 10, 27, 8, 0)


def test_sao_paulo_has_no_daylight_saving_so_a_day_is_24_hours() -> None:
    # Brazil dropped daylight saving in 2019; the zone database agrees: -03:00 all year.
    zone = ZoneInfo(SAO_PAULO)
    assert datetime(2026, 1, 15, tzinfo=zone).utcoffset() == timedelta(hours=-3)
    assert datetime(2026, 11, 15, tzinfo=zone).utcoffset() == timedelta(hours=-3)
    cal = make_calendar(SAO_PAULO)
    anchor = local(SAO_PAULO, 2026, 10, 31, 22, 0)
    due = due_at(anchor, Wait(1, Unit.DAYS), cal)
    assert due - anchor == timedelta(hours=24)
    assert wall(due, SAO_PAULO) == "Sun 2026-11-01 22:00 -03"


def test_a_time_missing_in_the_spring_gap_moves_forward_by_the_gap() -> None:
    cal = make_calendar(NY)
    due = due_at(local(NY, 2026, 3, 7, 2, 30), Wait(1, Unit.DAYS), cal)
    assert wall(due, NY) == "Sun 2026-03-08 03:30 EDT"


def test_an_ambiguous_time_takes_its_first_occurrence() -> None:
    cal = make_calendar(NY)
    due = due_at(local(NY, 2026, 10, 31, 1, 30), Wait(1, Unit.DAYS), cal)
    assert wall(due, NY) == "Sun 2026-11-01 01:30 EDT"
    assert due == utc(2026, 11, 1, 5, 30)


def test_due_times_are_utc_whole_seconds() -> None:
    cal = make_calendar(NY)
    due = due_at(datetime(2026, 11, 20, 15, 0, 7, 999_999, tzinfo=UTC), Wait(1, Unit.DAYS), cal)
    assert due == utc(2026, 11, 21, 15, 0, 7)
    assert due.tzinfo is UTC


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 11, 20, 9, 0), None, make_calendar(NY))


# --- send windows -----------------------------------------------------------------------------


def test_friday_late_afternoon_plus_an_hour_waits_for_monday_morning() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS)
    due = due_at(local(NY, 2026, 11, 20, 17, 30), Wait(1, Unit.HOURS), cal)
    assert wall(due, NY) == "Mon 2026-11-23 09:00 EST"


def test_before_the_window_opens_waits_for_the_same_days_start() -> None:
    cal = make_calendar(SAO_PAULO, window=OFFICE_HOURS)
    due = due_at(local(SAO_PAULO, 2026, 11, 24, 7, 0), None, cal)
    assert due == utc(2026, 11, 24, 12, 0)


def test_saturday_waits_for_monday_start() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS)
    due = due_at(local(NY, 2026, 11, 21, 10, 0), None, cal)
    assert wall(due, NY) == "Mon 2026-11-23 09:00 EST"


def test_inside_the_window_is_not_moved() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS)
    assert due_at(local(NY, 2026, 11, 24, 12, 34, 56), None, cal) == utc(2026, 11, 24, 17, 34, 56)


def test_the_window_end_is_exclusive() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS)
    assert wall(due_at(local(NY, 2026, 11, 24, 18, 0), None, cal), NY) == "Wed 2026-11-25 09:00 EST"


def test_add_wait_is_the_time_before_the_window_moves_it() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS)
    anchor = local(NY, 2026, 11, 20, 17, 30)
    assert wall(add_wait(anchor, Wait(1, Unit.HOURS), cal), NY) == "Fri 2026-11-20 18:30 EST"
    assert wall(add_wait(anchor, Wait(1, Unit.DAYS), cal), NY) == "Sat 2026-11-21 17:30 EST"


def test_a_window_to_midnight_stays_open_until_the_day_ends() -> None:
    cal = make_calendar(NY, window=Window.parse(None, "20:00", "24:00"))
    late = due_at(local(NY, 2026, 11, 24, 23, 59), None, cal)
    assert wall(late, NY) == "Tue 2026-11-24 23:59 EST"
    just_after_midnight = due_at(local(NY, 2026, 11, 25, 0, 1), None, cal)
    assert wall(just_after_midnight, NY) == "Wed 2026-11-25 20:00 EST"


def test_a_window_starting_in_the_spring_gap_opens_when_the_clocks_jump() -> None:
    cal = make_calendar(NY, window=Window.parse(None, "02:30", "04:00"))
    due = due_at(local(NY, 2026, 3, 8, 1, 0), None, cal)
    assert wall(due, NY) == "Sun 2026-03-08 03:00 EDT"


def test_a_window_that_does_not_exist_that_day_opens_the_next_day() -> None:
    cal = make_calendar(NY, window=Window.parse(None, "02:00", "02:45"))
    due = due_at(local(NY, 2026, 3, 8, 1, 0), None, cal)
    assert wall(due, NY) == "Mon 2026-03-09 02:00 EDT"


def test_the_repeated_hour_reopens_at_the_second_reading_of_the_start() -> None:
    cal = make_calendar(NY, window=Window.parse(None, "01:30", "12:00"))
    second_one_ten = local(NY, 2026, 11, 1, 1, 10, fold=1)  # 01:10 EST, after the 01:30 EDT start
    due = due_at(second_one_ten, None, cal)
    assert wall(due, NY) == "Sun 2026-11-01 01:30 EST"
    assert due > second_one_ten


@pytest.mark.parametrize(
    ("days", "start", "end", "message"),
    [
        ([], "09:00", "18:00", "at least one day"),
        (["monday"], "09:00", "18:00", "unknown day 'monday'"),
        (None, "9am", "18:00", "start '9am'"),
        (None, "24:00", None, "start '24:00'"),
        (None, "18:00", "09:00", "end 09:00 must be after its start 18:00"),
    ],
)
def test_a_bad_send_window_is_refused(
    days: list[str] | None, start: str, end: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Window.parse(days, start, end)


def test_window_defaults_to_every_day_all_day() -> None:
    window = Window.parse(None, None, None)
    assert window == Window(frozenset(range(7)), time(0), None)
    assert str(OFFICE_HOURS) == "mon-fri 09:00-18:00"


# --- holidays and closed dates ----------------------------------------------------------------


def test_us_thanksgiving_is_closed_with_country_us() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS, country="US")
    due = due_at(local(NY, 2026, 11, 25, 10, 0), Wait(1, Unit.DAYS), cal)
    assert wall(due, NY) == "Fri 2026-11-27 09:00 EST"


def test_a_holiday_without_a_window_opens_at_the_next_midnight() -> None:
    cal = make_calendar(NY, country="us")
    due = due_at(local(NY, 2026, 11, 26, 10, 0), None, cal)
    assert wall(due, NY) == "Fri 2026-11-27 00:00 EST"


@pytest.mark.parametrize("holiday", [date(2026, 11, 20), date(2026, 12, 25)])
def test_brazilian_national_holidays_are_closed_with_country_br(holiday: date) -> None:
    cal = make_calendar(SAO_PAULO, window=OFFICE_HOURS, country="BR")
    assert cal.is_holiday(holiday)
    due = due_at(local(SAO_PAULO, holiday.year, holiday.month, holiday.day, 10, 0), None, cal)
    assert wall(due, SAO_PAULO) == f"Mon {holiday + timedelta(days=3)} 09:00 -03"


def test_listed_dates_are_closed() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS, dates=["2026-12-24", date(2026, 12, 25)])
    due = due_at(local(NY, 2026, 12, 23, 17, 0), Wait(2, Unit.HOURS), cal)
    assert wall(due, NY) == "Mon 2026-12-28 09:00 EST"


def test_friday_after_hours_before_a_monday_holiday_moves_to_tuesday() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS, country="US")  # 2026-09-07 is Labor Day
    due = due_at(local(NY, 2026, 9, 4, 17, 0), Wait(90, Unit.MINUTES), cal)
    assert wall(due, NY) == "Tue 2026-09-08 09:00 EDT"


def test_a_bad_holiday_country_or_date_is_refused() -> None:
    with pytest.raises(ValueError, match="no public holidays known for 'XX'"):
        make_calendar(NY, country="XX")
    with pytest.raises(ValueError, match="'24/12/2026' is not a date"):
        make_calendar(NY, dates=["24/12/2026"])


def test_a_calendar_with_every_day_closed_fails_clearly_instead_of_hanging() -> None:
    every_monday = {date(2026, 1, 5) + timedelta(weeks=n) for n in range(200)}
    cal = make_calendar(NY, window=Window.parse(["mon"], "09:00", "18:00"), dates=every_monday)
    with pytest.raises(ValueError, match="no open day"):
        due_at(local(NY, 2026, 1, 5, 10, 0), None, cal)


# --- business days ----------------------------------------------------------------------------


def test_friday_plus_one_business_day_is_monday_same_time() -> None:
    cal = make_calendar(NY)
    due = due_at(local(NY, 2026, 10, 30, 10, 0), Wait(1, Unit.BUSINESS_DAYS), cal)
    assert wall(due, NY) == "Mon 2026-11-02 10:00 EST"  # and across the fall back


def test_business_days_skip_holidays() -> None:
    cal = make_calendar(NY, country="US")
    due = due_at(local(NY, 2026, 11, 25, 10, 0), Wait(2, Unit.BUSINESS_DAYS), cal)
    assert wall(due, NY) == "Mon 2026-11-30 10:00 EST"  # Thanksgiving and the weekend skipped


def test_business_days_count_the_window_days() -> None:
    mon_sat = Window.parse(["mon", "tue", "wed", "thu", "fri", "sat"], "08:00", "20:00")
    cal = make_calendar(NY, window=mon_sat)
    due = due_at(local(NY, 2026, 11, 20, 10, 0), Wait(1, Unit.BUSINESS_DAYS), cal)
    assert wall(due, NY) == "Sat 2026-11-21 10:00 EST"


def test_a_weekend_anchor_plus_one_business_day_is_monday() -> None:
    cal = make_calendar(NY)
    due = due_at(local(NY, 2026, 11, 21, 15, 0), Wait(1, Unit.BUSINESS_DAYS), cal)
    assert wall(due, NY) == "Mon 2026-11-23 15:00 EST"


# --- day: N -----------------------------------------------------------------------------------


def test_day_n_anchors_on_the_enrollments_local_date() -> None:
    cal = make_calendar(NY)
    enrolled = local(NY, 2026, 11, 20, 23, 30)  # already the 21st in UTC
    assert wall(day_due(enrolled, 1, cal), NY) == "Fri 2026-11-20 23:30 EST"
    assert wall(day_due(enrolled, 3, cal), NY) == "Sun 2026-11-22 23:30 EST"


def test_day_n_then_waits_for_the_window() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS)
    enrolled = local(NY, 2026, 11, 18, 11, 0)
    assert wall(day_due(enrolled, 3, cal), NY) == "Fri 2026-11-20 11:00 EST"
    assert wall(day_due(enrolled, 4, cal), NY) == "Mon 2026-11-23 09:00 EST"


def test_day_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="counted from 1"):
        day_due(local(NY, 2026, 11, 18, 11, 0), 0, make_calendar(NY))


# --- zones ------------------------------------------------------------------------------------


def test_pick_zone_prefers_a_valid_contact_zone_then_the_sequence_then_utc() -> None:
    assert pick_zone("Asia/Kolkata", SAO_PAULO) == "Asia/Kolkata"
    assert pick_zone("Mars/Olympus", SAO_PAULO) == SAO_PAULO
    assert pick_zone(None, SAO_PAULO) == SAO_PAULO
    assert pick_zone("Asia/Kolkata", SAO_PAULO, use_contact_timezone=False) == SAO_PAULO
    assert pick_zone("", "nowhere") == "UTC"


def test_an_unknown_zone_schedules_in_utc() -> None:
    assert make_calendar("Mars/Olympus").zone == ZoneInfo("UTC")
    assert make_calendar(None).zone == ZoneInfo("UTC")


# --- why a due time moved (for `seqctl doctor`) -----------------------------------------------


def test_why_deferred_explains_the_window_hours() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS)
    assert why_deferred(local(NY, 2026, 11, 24, 7, 15), cal) == Deferral(
        "window", "07:15 is outside the send window 09:00-18:00 (America/New_York)"
    )


def test_why_deferred_explains_the_window_days() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS)
    assert why_deferred(local(NY, 2026, 11, 21, 10, 0), cal) == Deferral(
        "window",
        "Saturday 2026-11-21 is not a sending day (send window mon-fri 09:00-18:00, "
        "America/New_York)",
    )


def test_why_deferred_names_the_holiday() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS, country="US")
    assert why_deferred(local(NY, 2026, 11, 26, 10, 0), cal) == Deferral(
        "holiday", "2026-11-26 is a public holiday (Thanksgiving Day)"
    )


def test_why_deferred_explains_a_listed_date() -> None:
    cal = make_calendar(NY, dates=["2026-12-24"])
    deferral = why_deferred(local(NY, 2026, 12, 24, 10, 0), cal)
    assert deferral is not None and deferral.reason == "closed day"
    assert "2026-12-24" in deferral.detail


def test_why_deferred_is_none_when_open() -> None:
    cal = make_calendar(NY, window=OFFICE_HOURS, country="US")
    assert why_deferred(local(NY, 2026, 11, 24, 10, 0), cal) is None


# --- properties over real zones ---------------------------------------------------------------

ZONES = [
    "UTC",
    "America/New_York",
    "America/Sao_Paulo",
    "America/Santiago",
    "America/Los_Angeles",
    "America/St_Johns",
    "Europe/London",
    "Europe/Berlin",
    "Africa/Cairo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "Pacific/Chatham",
    "Pacific/Auckland",
]

anchors = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))
waits = st.builds(
    Wait,
    amount=st.integers(min_value=0, max_value=40),
    unit=st.sampled_from(list(Unit)),
)
quarter_hours = st.integers(min_value=0, max_value=95).map(lambda q: time(q // 4, q % 4 * 15))


@st.composite
def windows(draw: st.DrawFn) -> Window:
    days = draw(st.frozensets(st.integers(min_value=0, max_value=6), min_size=1))
    start = draw(quarter_hours)
    end = draw(st.none() | quarter_hours.filter(lambda e: e > start))
    return Window(days, start, end)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    return make_calendar(
        draw(st.sampled_from(ZONES)),
        window=draw(st.none() | windows()),
        country=draw(st.sampled_from([None, "US", "BR", "GB", "NZ"])),
        dates=draw(st.lists(st.dates(date(2025, 1, 1), date(2029, 3, 1)), max_size=20)),
    )


FAST = settings(max_examples=200, deadline=None, derandomize=True)


@FAST
@given(anchor=anchors, wait=waits, cal=calendars())
def test_due_is_never_before_the_anchor_and_is_open(
    anchor: datetime, wait: Wait, cal: Calendar
) -> None:
    due = due_at(anchor, wait, cal)
    assert due >= anchor
    assert due.tzinfo is UTC and due.microsecond == 0
    day = due.astimezone(cal.zone).date()
    assert not cal.is_holiday(day) and day not in cal.closed
    assert why_deferred(due, cal) is None
    assert open_at(due, cal) == due


@FAST
@given(anchor=anchors, wait=waits, cal=calendars().filter(lambda c: c.window is not None))
def test_with_a_window_the_due_time_is_inside_it_on_an_open_day(
    anchor: datetime, wait: Wait, cal: Calendar
) -> None:
    assert cal.window is not None
    due = due_at(anchor, wait, cal).astimezone(cal.zone)
    assert cal.window.contains(due.time())
    assert cal.is_open_day(due.date())


@FAST
@given(
    anchor=anchors,
    amount=st.integers(min_value=0, max_value=60),
    unit=st.sampled_from([Unit.DAYS, Unit.WEEKS]),
    zone=st.sampled_from(ZONES),
)
def test_days_and_weeks_keep_the_wall_clock_unless_it_does_not_exist(
    anchor: datetime, amount: int, unit: Unit, zone: str
) -> None:
    cal = make_calendar(zone)
    due = due_at(anchor, Wait(amount, unit), cal)
    days = amount * (7 if unit is Unit.WEEKS else 1)
    before, after = anchor.astimezone(cal.zone), due.astimezone(cal.zone)
    expected = before.replace(tzinfo=None) + timedelta(days=days)
    if after.replace(tzinfo=None) != expected:
        # Only a time skipped by the clocks may move, and then forward by the gap.
        roundtrip = expected.replace(tzinfo=cal.zone).astimezone(UTC).astimezone(cal.zone)
        assert roundtrip.replace(tzinfo=None) != expected
        assert after.replace(tzinfo=None) > expected
        assert after.date() == expected.date()
