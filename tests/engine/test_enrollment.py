"""Bulk enrollment: every contact of a batch accounted for, in the order given, on a real file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seqctl.engine.enrollments import enrollment
from seqctl.engine.enrollments.enrollment import EnrollReport, Refusal
from seqctl.engine.run.runtime import RunnableVersion
from seqctl.store import Store, open_store
from seqctl.store.records import SuppressionRow
from seqctl.timeutil import format_instant
from tests.conftest import Launch

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday
SUPPRESSED_AT = datetime(2026, 11, 22, tzinfo=UTC)
UNKNOWN = "unknown contact (import it first: seqctl contacts import)"
# Office hours in the contact's zone: the first step is due at the next opening, zone by zone.
PLAYBOOK = """
sequence: hours
timezone: America/New_York
send_window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
reenroll: REENROLL
steps:
  - type: task
"""
CONTACTS = """key,email,timezone
tokyo,tokyo@example.com,Asia/Tokyo
paris,paris@example.com,Europe/Paris
nozone,nozone@example.com,
paris2,paris2@example.com,Europe/Paris
lima,lima@example.com,America/Lima
"""


@pytest.fixture
def published(launch: Launch, project: Path) -> Path:
    return publish(launch, project, "always")


def publish(launch: Launch, project: Path, reenroll: str) -> Path:
    """`hours` published (a draft) and the contacts imported; the database."""
    launch({"hours": PLAYBOOK.replace("REENROLL", reenroll)}, CONTACTS, activate=False)
    return project / "seqctl.db"


@pytest.fixture
def store(published: Path) -> Iterator[Store]:
    with open_store(published) as opened:
        yield opened


def live(store: Store) -> list[tuple[str, str | None]]:
    """(contact, next due) of live enrollments, in id order."""
    found = store.enrollments(sequence="hours", live=True)
    return [(e.contact, format_instant(e.next_due_at)) for e in found]


def test_each_contact_gets_the_first_due_time_of_its_own_zone(store: Store) -> None:
    report = enrollment.enroll(store, "hours", ["tokyo", "paris", "nozone", "lima"], now=NOW)
    assert (report.enrolled, report.already, report.refused) == (4, 0, [])
    assert live(store) == [
        ("tokyo", "2026-11-24T00:00:00Z"),  # 21:00 Monday in Tokyo: Tuesday 09:00 there
        ("paris", "2026-11-23T12:00:00Z"),  # 13:00 in Paris: open now
        ("nozone", "2026-11-23T14:00:00Z"),  # the sequence's New York: 09:00 there
        ("lima", "2026-11-23T14:00:00Z"),  # 07:00 in Lima: 09:00 there
    ]


def test_the_schedule_is_worked_out_once_per_zone_not_per_contact(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    zones: list[str | None] = []
    due = RunnableVersion.due

    def counted(self: RunnableVersion, index: int, **kwargs: object) -> datetime | None:
        zones.append(kwargs["contact_zone"])  # type: ignore[arg-type]
        return due(self, index, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(RunnableVersion, "due", counted)
    keys = ["paris", "tokyo", "paris2", "nozone", "lima"]
    report = enrollment.enroll(store, "hours", keys, now=NOW, batch_size=2)
    assert report.enrolled == 5
    assert sorted(zones, key=str) == sorted(
        ["Europe/Paris", "Asia/Tokyo", None, "America/Lima"], key=str
    )


def test_enrollments_follow_the_order_given_across_batches(store: Store) -> None:
    seen: list[int] = []
    keys = ["paris2", "lima", "tokyo", "nozone", "paris"]
    report = enrollment.enroll(store, "hours", keys, now=NOW, batch_size=2, progress=seen.append)
    assert report.enrolled == 5
    assert seen == [2, 2, 1]
    assert [contact for contact, _ in live(store)] == keys
    kinds = [(h.contact, h.kind, h.detail) for h in store.history(sequence="hours")]
    assert sorted(kinds) == sorted((key, "enrolled", "version 1") for key in keys)


def test_a_mixed_batch_reports_everyone_in_the_order_given(store: Store) -> None:
    enrollment.enroll(store, "hours", ["paris"], now=NOW)
    store.suppress([SuppressionRow("tokyo", "contact", "unsubscribed", SUPPRESSED_AT)])
    store.suppress([SuppressionRow("paris", "contact", "unsubscribed", SUPPRESSED_AT)])
    store.suppress([SuppressionRow("ghost", "contact", "unsubscribed", SUPPRESSED_AT)])
    keys = ["zed", "lima", "tokyo", "paris", "ghost", "nozone", "lima", "amy"]
    report = enrollment.enroll(store, "hours", keys, now=NOW)
    assert report == EnrollReport(
        enrolled=2,  # lima, nozone
        already=1,  # paris: live, whatever else is true of it
        refused=[
            Refusal("zed", UNKNOWN),
            Refusal("tokyo", "suppressed: unsubscribed"),
            Refusal("ghost", UNKNOWN),  # unknown first, suppressed or not
            Refusal("amy", UNKNOWN),
        ],
    )
    assert [contact for contact, _ in live(store)] == ["paris", "lima", "nozone"]


def test_enrolling_again_counts_everyone_as_already_and_adds_nothing(store: Store) -> None:
    keys = ["tokyo", "paris", "nozone"]
    enrollment.enroll(store, "hours", keys, now=NOW, variables={"plan": "pro"})
    again = enrollment.enroll(store, "hours", [*keys, "lima"], now=NOW, batch_size=2)
    assert (again.enrolled, again.already, again.refused) == (1, 3, [])
    assert len(store.enrollments(sequence="hours")) == 4
    assert len(store.history(sequence="hours")) == 4
    assert [e.vars for e in store.enrollments(sequence="hours")] == [{"plan": "pro"}] * 3 + [{}]


def test_a_finished_enrollment_does_not_stop_a_new_one_unless_the_policy_says_so(
    launch: Launch, project: Path
) -> None:
    db = publish(launch, project, "never")
    with open_store(db) as store:
        enrollment.enroll(store, "hours", ["paris", "lima"], now=NOW)
        enrollment.remove(store, "hours", "paris", now=NOW)
        report = enrollment.enroll(store, "hours", ["paris", "lima", "tokyo"], now=NOW)
    reason = "already went through this sequence (exited; reenroll: never)"
    assert report == EnrollReport(enrolled=1, already=1, refused=[Refusal("paris", reason)])


def test_a_failure_working_out_a_due_time_is_raised_as_itself_and_writes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: RunnableVersion, index: int, **kwargs: object) -> datetime | None:
        raise ValueError("no public holidays known for 'XX'")

    monkeypatch.setattr(RunnableVersion, "due", broken)
    with pytest.raises(ValueError, match="no public holidays known"):
        enrollment.enroll(store, "hours", ["paris", "tokyo"], now=NOW)
    assert store.enrollments(sequence="hours") == []
    assert store.history(sequence="hours") == []


def test_enrolling_while_another_query_streams_its_rows(store: Store) -> None:
    enrollment.enroll(store, "hours", ["paris"], now=NOW)
    streamed = store.enrollments_with_contacts(states=["active"])
    next(streamed)  # a statement still running on the connection
    report = enrollment.enroll(store, "hours", ["tokyo"], now=NOW)
    assert report.enrolled == 1
    assert list(streamed) == []


def test_two_enrolls_started_together_enroll_each_contact_once(published: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    keys = published.parent / "keys.txt"
    keys.write_text("tokyo\nparis\nnozone\nparis2\nlima\n")
    args = [sys.executable, "-m", "seqctl", "--now=2026-11-23T12:00:00Z", "enroll", "hours"]
    procs = [
        subprocess.Popen(
            [*args, "--file", str(keys), "--json"],
            cwd=published.parent,
            env=env,
            stdout=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    reports = [json.loads(out) for out in outputs]
    assert sorted((r["enrolled"], r["already"]) for r in reports) == [(0, 5), (5, 0)]
    with open_store(published) as store:
        assert len(store.enrollments(sequence="hours")) == 5
        assert len(store.history(sequence="hours")) == 5


def test_a_batch_larger_than_sqlites_variable_limit_with_suppressions(store: Store) -> None:
    # 999 variables a statement: SQLite's default before 3.32 (32,766 after; builds vary).
    store.db.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    store.suppress([SuppressionRow("tokyo", "contact", "unsubscribed", SUPPRESSED_AT)])
    keys = ["paris", *(f"nobody-{i}" for i in range(2000)), "tokyo", "lima"]
    report = enrollment.enroll(store, "hours", keys, now=NOW, variables={"plan": "pro"})
    assert (report.enrolled, report.already, len(report.refused)) == (2, 0, 2001)
    assert report.refused[-1] == Refusal("tokyo", "suppressed: unsubscribed")
