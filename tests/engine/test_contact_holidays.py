"""`holidays: {from_contact: country, subdivision_field: state}`: each contact's own country
(and state) closes days, so a Brazilian contact of a US sequence is not mailed on a Brazilian
holiday; preview and doctor say which calendar applied."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from seqctl.engine.run.runtime import RunnableVersion
from seqctl.playbook.lint import lint_paths
from seqctl.playbook.model import normalise
from tests.conftest import Launch, Run, Write
from tests.playbooks import auto_playbook

PLAYBOOK = auto_playbook(
    "us-intro",
    """
  - id: hello
    type: email
    subject: Hi
    body: Hello
  - id: follow-up
    type: email
    wait: 1 day
    subject: Again
    body: Hello again
""",
    settings=(
        "timezone: America/New_York\n"
        'send_window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}\n'
        "holidays: {country: US, from_contact: country, subdivision_field: state}\n"
    ),
)
CONTACTS = (
    "key,email,timezone,country,state\n"
    "ana-br,ana@x.test,America/Sao_Paulo,BR,RJ\n"
    "bia-sp,bia@x.test,America/Sao_Paulo,br,SP\n"
    "joe-us,joe@x.test,America/New_York,US,NY\n"
    "kim-none,kim@x.test,America/New_York,,\n"
    "odd,odd@x.test,America/New_York,Atlantis,\n"
)
# Thursday 19 November 2026, 20:00 UTC: 17:00 in Sao Paulo and 15:00 in New York.
ENROLLED = "--now=2026-11-19T20:00:00Z"


def first_due(run: Run) -> dict[str, str]:
    rows = run("enrollments", "--json").json
    return {r["contact"]: r["next_due_at"] for r in rows}


def test_each_contact_gets_the_holidays_of_their_own_country(launch: Launch) -> None:
    run = launch({"us-intro": PLAYBOOK}, CONTACTS, at="2026-11-19T12:00:00Z")
    keys = ["ana-br", "bia-sp", "joe-us", "kim-none", "odd"]
    assert run(ENROLLED, "enroll", "us-intro", *[f"-c{k}" for k in keys]).exit_code == 0
    assert first_due(run) == {
        # 17:00 in Sao Paulo is past the window; Friday 20 November is Black Awareness Day in
        # Brazil: Monday 09:00 there.
        "ana-br": "2026-11-23T12:00:00Z",
        "bia-sp": "2026-11-23T12:00:00Z",
        # 15:00 in New York is inside the window: due now.
        "joe-us": "2026-11-19T20:00:00Z",
        "kim-none": "2026-11-19T20:00:00Z",
        "odd": "2026-11-19T20:00:00Z",
    }
    # The tick sends to those due; their next step (a day later) falls on Friday 20 November,
    # a working day in the US.
    assert run(ENROLLED, "tick").exit_code == 0
    after = first_due(run)
    assert after["joe-us"] == "2026-11-20T20:00:00Z"
    assert after["ana-br"] == "2026-11-23T12:00:00Z"
    # On Monday the Brazilians get theirs; their next step is on Tuesday.
    assert run("--now=2026-11-23T12:00:00Z", "tick").exit_code == 0
    assert first_due(run)["ana-br"] == "2026-11-24T12:00:00Z"


def test_thanksgiving_closes_for_americans_only(run: Run, write: Write) -> None:
    """Preview a contact of each country across Thanksgiving (Thursday 26 November)."""
    write("playbooks/us-intro.yaml", PLAYBOOK)
    write("c.csv", CONTACTS)
    assert run("contacts", "import", "c.csv").exit_code == 0
    start = "2026-11-25T23:00:00Z"  # Wednesday evening everywhere in the Americas

    def schedule(contact: str) -> tuple[str | None, list[str]]:
        plan = run("preview", "playbooks/us-intro.yaml", "-c", contact, "--start", start, "--json")
        assert plan.exit_code == 0, plan.stderr
        return plan.json[0].get("holidays"), [entry["due_at"] for entry in plan.json]

    assert schedule("ana-br") == (
        "BR-RJ, the contact's country",
        ["2026-11-26T12:00:00Z", "2026-11-27T12:00:00Z"],
    )
    assert schedule("joe-us") == (
        "US-NY, the contact's country",
        ["2026-11-27T14:00:00Z", "2026-11-30T14:00:00Z"],
    )
    assert schedule("kim-none") == (
        "US, the sequence's (the contact has no known country)",
        ["2026-11-27T14:00:00Z", "2026-11-30T14:00:00Z"],
    )
    text = run("preview", "playbooks/us-intro.yaml", "-c", "bia-sp", "--start", start).stdout
    assert text.splitlines()[0] == "holidays: BR-SP, the contact's country"


def test_a_state_holiday_applies_to_that_state_only() -> None:
    """9 July is a holiday in Sao Paulo state, not in Rio."""
    model = normalise(
        {
            "sequence": "s",
            "holidays": {"from_contact": "country", "subdivision_field": "state"},
            "steps": [{"id": "a", "type": "task"}],
        }
    )
    version = RunnableVersion("s", 1, model)
    thursday = datetime(2026, 7, 9, 12, tzinfo=UTC)

    def due(contact: dict[str, str]) -> datetime | None:
        return version.due(
            0,
            anchor=thursday,
            enrolled_at=thursday,
            contact_zone="America/Sao_Paulo",
            place=version.place_of(contact),
        )

    assert due({"country": "BR", "state": "RJ"}) == thursday
    assert due({"country": "BR", "state": "SP"}) == datetime(2026, 7, 10, 3, tzinfo=UTC)
    assert version.place_of({"country": "BR", "state": "Nowhere"}) == ("BR", None)
    assert version.place_of({"country": 55}) is None


def test_doctor_names_the_calendar(launch: Launch) -> None:
    run = launch({"us-intro": PLAYBOOK}, CONTACTS, at="2026-11-19T12:00:00Z")
    assert run(ENROLLED, "enroll", "us-intro", "-c", "ana-br").exit_code == 0
    lines = run(ENROLLED, "doctor", "us-intro", "-c", "ana-br").stdout.splitlines()
    assert "ok   holidays: BR-RJ, the contact's country" in lines
    assert lines[-1].endswith(
        "moved by the send window 09:00-17:00 (America/Sao_Paulo): 17:00 is outside it, then"
        " past the closed day 2026-11-20 (National Day of Zumbi and Black Awareness)"
    )


def test_the_schema_wants_from_contact_with_a_subdivision_field(tmp_path: Path) -> None:
    path = tmp_path / "h.yaml"
    path.write_text(
        "sequence: h\nholidays: {subdivision_field: state}\nsteps:\n  - type: task\n",
        encoding="utf-8",
    )
    [finding] = lint_paths([path]).findings
    assert (finding.line, finding.rule) == (2, "schema")
    assert "from_contact" in finding.message
