"""Per-day bar charts for the report, as inline SVG that reads on a laptop and on a phone.

The plot stretches with the page (bar positions are percentages of its width) while the text
keeps its size: the count axis is a narrow SVG of its own beside it, and day labels (Mondays,
Wednesdays and Fridays) are thinned to Mondays on narrow screens by the page's CSS (class
`minor`). Every bar carries its day and
count in `data-` attributes, and a `<title>` for a pointer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from seqctl.store.records import SlotCount

HEIGHT = 150  # px, the whole chart
TOP, BOTTOM = 10, 24  # room above the plot, and below it for the day labels
AXIS_WIDTH = 44
SHORT = 10  # days: a period this short has every day labelled
MAX_DAYS = 400  # the latest days drawn when a period is longer


def local_days(since: datetime, until: datetime, zone: ZoneInfo) -> list[date]:
    """Every local date from `since` up to (not including) `until`, in the zone."""
    first = since.astimezone(zone).date()
    last = (until - timedelta(seconds=1)).astimezone(zone).date()
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def whole_hours(zone: ZoneInfo, days: list[date]) -> bool:
    """Whether the zone's offset is whole hours on every one of these days (most zones): then
    counts by UTC hour fall into local days exactly."""
    for day in days[:: max(1, len(days) // 60)] + days[-1:]:
        offset = datetime(day.year, day.month, day.day, 12, tzinfo=zone).utcoffset()
        if offset is not None and offset.total_seconds() % 3600:
            return False
    return True


def by_local_day(slots: Iterable[SlotCount], zone: ZoneInfo) -> dict[date, int]:
    """Counts by UTC hour or minute, added up by local date."""
    days: dict[date, int] = {}
    for slot in slots:
        day = slot.at.astimezone(zone).date()
        days[day] = days.get(day, 0) + slot.count
    return days


def nice_top(largest: int) -> int:
    """The axis top: a round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) at
    least `largest`, and at least 4."""
    if largest <= 4:
        return 4
    power = 10 ** math.floor(math.log10(largest))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8):
        top = step * power
        if top >= largest and top == int(top):
            return int(top)
    return 10 * power


def day_chart(
    name: str, title: str, days: list[date], counts: Mapping[date, int], colour: str, unit: str
) -> str:
    """Bars per day, a count axis with gridlines at 0, half and the top, and labelled days."""
    values = [counts.get(day, 0) for day in days]
    top = nice_top(max(values, default=0))
    plot = HEIGHT - TOP - BOTTOM
    ticks = [0, top // 2, top] if top % 2 == 0 else [0, top]
    axis = []
    grid = []
    for tick in ticks:
        y = TOP + plot - plot * tick / top
        axis.append(f'<text x="{AXIS_WIDTH - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:,}</text>')
        grid.append(f'<line x1="0" x2="100%" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
    width = 100 / max(len(days), 1)
    bars = []
    labels = []
    for i, (day, n) in enumerate(zip(days, values, strict=True)):
        h = plot * n / top
        label = f"{day.day} {day.strftime('%b')}"
        bars.append(
            f'<rect x="{i * width + width * 0.15:.3f}%" y="{TOP + plot - h:.1f}" '
            f'width="{width * 0.7:.3f}%" height="{h:.1f}" fill="{colour}"'
            f' data-chart="{escape(name)}" data-day="{day.isoformat()}" data-value="{n}">'
            f"<title>{escape(day.strftime('%a'))} {label}: {n:,} {escape(unit)}"
            "</title></rect>"
        )
        major = day.weekday() == 0 or len(days) <= SHORT
        if not major and (day.weekday() not in (2, 4) or len(days) > 45):
            continue  # Mondays, Wednesdays and Fridays on a laptop, Mondays on a phone
        centre = (i + 0.5) * width
        anchor, x = "middle", centre
        if centre < 6:
            anchor, x = "start", i * width
        elif centre > 94:
            anchor, x = "end", (i + 1) * width
        minor = "" if major else ' class="minor"'
        labels.append(
            f'<text x="{x:.3f}%" y="{HEIGHT - 6}" text-anchor="{anchor}"{minor}>{label}</text>'
        )
    axis_svg = (
        f'<svg class="axis" width="{AXIS_WIDTH}" height="{HEIGHT}" aria-hidden="true">'
        f"{''.join(axis)}</svg>"
    )
    plot_svg = (
        f'<svg class="plot" width="100%" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)}, {escape(_span(days))}" data-chart-box="{escape(name)}">'
        f"{''.join(grid)}{''.join(bars)}"
        f'<line x1="0" x2="100%" y1="{TOP + plot}" y2="{TOP + plot}" class="base"/>'
        f"{''.join(labels)}</svg>"
    )
    total = sum(values)
    busiest = max(range(len(values)), key=lambda i: values[i]) if total else None
    note = (
        f"{total:,} in all; busiest day {days[busiest].strftime('%a')} "
        f"{days[busiest].day} {days[busiest].strftime('%b')} ({values[busiest]:,})"
        if busiest is not None
        else "none in this period"
    )
    return (
        f'<figure class="chart"><figcaption>{escape(title)} '
        f'<span class="muted" data-chart-total="{escape(name)}" data-value="{total}">{note}'
        f'</span></figcaption><div class="chart-row">{axis_svg}{plot_svg}</div></figure>'
    )


def _span(days: list[date]) -> str:
    if not days:
        return "no days"
    return f"{days[0].isoformat()} to {days[-1].isoformat()}"
