"""Time zones, send windows and holidays end to end; preview agrees with what tick does."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from seqctl.timeutil import format_instant, parse_instant
from tests.conftest import BOTH_STORES, Launch, Run
from tests.playbooks import auto_playbook

pytestmark = BOTH_STORES

NEW_YORK = auto_playbook(
    "ny",
    """
  - id: hello
    type: email
    subject: Hello
    body: Hi
  - id: nudge
    type: email
    wait: 1 day
    subject: Nudge
    body: Still there?
  - id: call
    type: call
    wait: 2 days
  - id: last
    type: email
    wait: 1 week
    subject: Last
    body: Bye
""",
    settings="timezone: America/New_York\n"
    'send_window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}\n'
    "holidays: {country: US}\n",
)
SAO_PAULO = auto_playbook(
    "sp",
    """
  - id: hello
    type: email
    subject: Olá
    body: Oi
  - id: follow-up
    type: email
    wait: 1 business day
    subject: Tudo bem?
    body: Oi de novo
""",
    settings="timezone: America/Sao_Paulo\n"
    'send_window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}\n'
    "holidays: {country: BR}\n",
)
CONTACTS = (
    "key,email,timezone\n"
    "ny,ny@example.com,America/New_York\n"
    "sp,sp@example.com,America/Sao_Paulo\n"
    "tokyo,tokyo@example.com,Asia/Tokyo\n"
    "nozone,nozone@example.com,\n"
)


@pytest.fixture
def setup(launch: Launch) -> Run:
    return launch(
        {"ny": NEW_YORK, "sp": SAO_PAULO}, CONTACTS, csv="contacts.csv", at="2026-10-01T00:00:00Z"
    )


def preview(run: Run, playbook: str, contact: str, start: str) -> list[tuple[str, str]]:
    result = run("preview", playbook, "--contact", contact, "--start", start, "--json")
    assert result.exit_code == 0, result.stderr
    return [(e["step"], e["due_at"]) for e in result.json]


def test_new_york_across_the_november_dst_change(setup: Run) -> None:
    # Friday 2026-10-30 16:30 EDT. Saturday is closed; clocks fall back on Sunday 1 November.
    assert preview(setup, "playbooks/ny.yaml", "ny", "2026-10-30T20:30:00Z") == [
        ("hello", "2026-10-30T20:30:00Z"),  # Friday 16:30 EDT, inside the window
        ("nudge", "2026-11-02T14:00:00Z"),  # Saturday closed -> Monday 09:00 EST
        ("call", "2026-11-04T14:00:00Z"),  # two days later, same wall time 09:00 EST
        ("last", "2026-11-12T14:00:00Z"),  # a week later is Veterans Day -> Thursday 09:00
    ]


def test_thanksgiving_is_closed(setup: Run) -> None:
    # Wednesday 25 November 10:00 EST; one day later is Thanksgiving: the next open day's
    # start, Friday 09:00.
    plan = preview(setup, "playbooks/ny.yaml", "ny", "2026-11-25T15:00:00Z")
    assert plan[1] == ("nudge", "2026-11-27T14:00:00Z")


def test_friday_before_a_holiday_in_sao_paulo(setup: Run) -> None:
    # Friday 30 October 2026 17:00 in Sao Paulo (UTC-3, no daylight saving since 2019);
    # Monday 2 November is Finados, a national holiday: one business day later is Tuesday.
    assert preview(setup, "playbooks/sp.yaml", "sp", "2026-10-30T20:00:00Z") == [
        ("hello", "2026-10-30T20:00:00Z"),
        ("follow-up", "2026-11-03T20:00:00Z"),
    ]


def test_contacts_use_their_own_zone(setup: Run) -> None:
    # Monday 2026-11-23 08:00 UTC is 17:00 in Tokyo: the window (09-17) just closed there.
    tokyo = preview(setup, "playbooks/ny.yaml", "tokyo", "2026-11-23T08:00:00Z")
    assert tokyo[0] == ("hello", "2026-11-24T00:00:00Z")  # Tuesday 09:00 JST
    # No zone on the contact: the sequence's zone (New York) applies; 03:00 EST -> 09:00.
    fallback = preview(setup, "playbooks/ny.yaml", "nozone", "2026-11-23T08:00:00Z")
    assert fallback[0] == ("hello", "2026-11-23T14:00:00Z")


def iso(value: datetime) -> str:
    text = format_instant(value)
    assert text is not None
    return text


@pytest.mark.parametrize(
    ("sequence", "contact", "start"),
    [
        ("ny", "ny", "2026-10-30T20:30:00Z"),
        ("ny", "tokyo", "2026-11-20T03:00:00Z"),
        ("sp", "sp", "2026-10-30T20:00:00Z"),
    ],
)
def test_preview_agrees_with_tick_step_for_step(
    setup: Run, project: Path, sequence: str, contact: str, start: str
) -> None:
    run = setup
    plan = preview(run, f"playbooks/{sequence}.yaml", contact, start)
    assert run(f"--now={start}", "enroll", sequence, "-c", contact).exit_code == 0
    for step, due_at in plan:
        due = parse_instant(due_at)
        early = run(f"--now={iso(due - timedelta(minutes=1))}", "tick", "--json").json
        assert early["due"] == 0, f"{step} was due before {due_at}"
        report = run(f"--now={due_at}", "tick", "--json").json
        assert report["due"] == 1, f"{step} was not due at {due_at}"
        for action in run(f"--now={due_at}", "actions", "--due", "--json").json:
            run(f"--now={due_at}", "done", str(action["id"]))
    sent = (project / "outbox.jsonl").read_text().splitlines()
    assert len(sent) == sum(1 for step, _ in plan if step != "call")
    [enrollment] = run("enrollments", "--contact", contact, "--json").json
    assert enrollment["state"] == "completed"
