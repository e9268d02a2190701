"""`seqctl report`: one self-contained HTML page that answers a sales manager's questions.

For a period (the last 30 days by default) and optionally one owner: the totals first, then
sends and replies per day, then each sequence with activity (funnel, A/B tests, failures),
the quiet ones and the untouched drafts in a line each, and the actions due with the contact's
name and the assignee. Every number is one of `seqctl status --json` for the same period
(reports.status), and sits in a `data-` attribute so a test or a script can read it back.
Nothing is loaded from the network: styles and charts (SVG) are inline. Large tables are
aggregated in SQL, never read row by row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from seqctl.engine.people.actions import ActionView, Timing, list_actions
from seqctl.engine.sequences.catalog import Audience, admitted
from seqctl.engine.sequences.visibility import Viewer
from seqctl.engine.views import reports
from seqctl.engine.views.report_chart import by_local_day, day_chart, local_days, whole_hours
from seqctl.errors import InputError
from seqctl.store import Store
from seqctl.store.records import EnrollmentFailure, MessageFailure
from seqctl.timeutil import format_instant, zone

DEFAULT_PERIOD = timedelta(days=30)
SENT_COLOUR, REPLY_COLOUR = "#3b6fb6", "#2e9e5b"


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime


@dataclass
class ReportData:
    """What the page shows, gathered before any HTML is written."""

    now: datetime
    period: Period
    zone_name: str
    owner: str | None
    viewer: str | None
    active: list[dict[str, Any]] = field(default_factory=list)  # status() with activity
    quiet: list[dict[str, Any]] = field(default_factory=list)  # enrolled, nothing this period
    drafts: list[dict[str, Any]] = field(default_factory=list)  # drafts nobody is enrolled in
    failures: dict[str, tuple[list[EnrollmentFailure], list[MessageFailure]]] = field(
        default_factory=dict
    )
    actions: list[ActionView] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)  # contact key -> name
    assignees: dict[tuple[str, str], str] = field(default_factory=dict)  # (sequence, step)
    charts: list[str] = field(default_factory=list)

    @property
    def shown(self) -> list[dict[str, Any]]:
        return [*self.active, *self.quiet, *self.drafts]

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.zone_name)

    def total(self, key: str) -> int:
        return sum(int(item["totals"][key]) for item in self.shown)

    def live(self) -> int:
        """Enrollments running now: active or waiting for a person (status's counts)."""
        return sum(
            item["enrollments"]["active"] + item["enrollments"]["waiting"] for item in self.shown
        )


def period_of(now: datetime, since: datetime | None, until: datetime | None) -> Period:
    """[since, until): the last 30 days up to now unless given."""
    end = until or now
    start = since or end - DEFAULT_PERIOD
    if start >= end:
        raise InputError(
            f"--since {format_instant(start)} is not before --until {format_instant(end)}"
        )
    return Period(start, end)


def gather(
    store: Store,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    owner: str | None = None,
    viewer: Viewer | None = None,
    timezone: str | None = None,
) -> ReportData:
    period = period_of(now, since, until)
    among = admitted(store, viewer, owner)
    statuses = reports.all_status(
        store, since=period.since, until=period.until, now=now, among=among
    )
    if timezone is not None:
        zone(timezone)  # InputError for a zone that does not exist
    zones = Counter(str(item["timezone"]) for item in statuses)
    data = ReportData(
        now,
        period,
        timezone or (zones.most_common(1)[0][0] if zones else "UTC"),
        owner,
        viewer.user if viewer is not None else None,
    )
    for item in statuses:
        enrolled = sum(item["enrollments"].values())
        if item["status"] == "draft" and enrolled == 0:
            data.drafts.append(item)
        elif _activity(item):
            data.active.append(item)
        else:
            data.quiet.append(item)
    data.active.sort(key=lambda s: (-int(s["totals"]["sent"]), -_live(s), str(s["name"]).lower()))
    data.quiet.sort(key=lambda s: str(s["name"]).lower())
    data.drafts.sort(key=lambda s: str(s["name"]).lower())
    for item in data.active:
        sequence = item["sequence"]
        data.failures[sequence] = (
            store.enrollment_failures(sequence),
            store.message_failures(sequence, period.since, period.until),
        )
    shown = {item["sequence"] for item in data.shown}
    data.actions = [
        a for a in list_actions(store, now, show=Timing.DUE, viewer=viewer) if a.sequence in shown
    ]
    data.people = _names(store, [a.contact for a in data.actions[:MAX_ACTIONS]])
    data.assignees = _assignees(store, data.actions[:MAX_ACTIONS])
    data.charts = _charts(store, data, sorted(shown), period.since, period.until)
    return data


MAX_ACTIONS = 100  # actions listed; the rest are counted


def _activity(item: dict[str, Any]) -> bool:
    totals = item["totals"]
    moved = any(int(s["reached"]) for s in item["steps"]) or item["reached"]
    return bool(moved or totals["sent"] or totals["replied"] or totals["opened"] or _live(item))


def _live(item: dict[str, Any]) -> int:
    counts = item["enrollments"]
    return int(counts["active"] + counts["waiting"] + counts["paused"])


def _names(store: Store, keys: list[str]) -> dict[str, str]:
    """A person's name for each contact key: first and last name, or name, or email, or key."""
    names = {}
    for key, contact in store.contacts_by_key(sorted(set(keys))).items():
        fields = contact.fields()
        full = " ".join(str(fields[k]) for k in ("first_name", "last_name") if fields.get(k))
        names[key] = full or str(fields.get("name") or contact.email or key)
    return names


def _assignees(store: Store, actions: list[ActionView]) -> dict[tuple[str, str], str]:
    """Who does each (sequence, step)'s actions: the step's assignee, else the owner."""
    audience = Audience(store)
    found: dict[tuple[str, str], str] = {}
    for action in actions:
        key = (action.sequence, action.step)
        if key in found:
            continue
        definition = audience.definition(action.sequence) or {}
        steps: list[dict[str, Any]] = definition.get("steps", [])
        step = next((s for s in steps if s.get("id") == action.step), {})
        found[key] = str(step.get("assignee") or definition.get("owner") or "nobody")
    return found


def _charts(
    store: Store,
    data: ReportData,
    sequences: list[str],
    since: datetime | None,
    until: datetime | None,
) -> list[str]:
    tz = data.zone
    days = local_days(data.period.since, data.period.until, tz)
    width = 13 if whole_hours(tz, days) else 16
    sent = store.sent_per_hour(sequences, since, until, width) if sequences else []
    replies = store.events_per_hour(sequences, "reply", since, until, width) if sequences else []
    return [
        day_chart(
            "sent", "Messages sent per day", days, by_local_day(sent, tz), SENT_COLOUR, "sent"
        ),
        day_chart(
            "replied", "Replies per day", days, by_local_day(replies, tz), REPLY_COLOUR, "replied"
        ),
    ]


def build_report(
    store: Store,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    owner: str | None = None,
    viewer: Viewer | None = None,
    timezone: str | None = None,
) -> str:
    """The whole report as one HTML document."""
    from seqctl.engine.views.report_page import render

    data = gather(
        store, now=now, since=since, until=until, owner=owner, viewer=viewer, timezone=timezone
    )
    return render(data)
