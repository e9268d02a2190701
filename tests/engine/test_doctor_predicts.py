"""`doctor` says what the tick will meet before it meets it: no address for the step's channel,
a template variable the contact lacks, a suppressed address, a closed day behind a window."""

from __future__ import annotations

from tests.conftest import Launch, Run

PLAYBOOK = """
sequence: predict
timezone: America/New_York
send_window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
holidays: {country: US}
steps:
  - id: hello
    type: email
    subject: "Hi {{ contact.first_name }}"
    body: "Hello {{ contact.first_name }}"
  - id: text
    type: sms
    wait: 1 day
    body: Hi
"""
CONTACTS = (
    "key,email,phone,first_name\n"
    "ok,ok@x.test,+15550100,Olga\n"
    "no-name,nn@x.test,,\n"
    "blocked,b@blocked.test,,Bea\n"
)
# Wednesday 25 November 2026, 18:00 in New York: after the window. Thursday 26 is Thanksgiving.
LATE = "--now=2026-11-25T23:00:00Z"


def doctor(run: Run, contact: str, sequence: str) -> list[str]:
    return run(LATE, "doctor", sequence, "--contact", contact).stdout.splitlines()


def lines_of(run: Run, contact: str, *names: str, sequence: str = "predict") -> list[str]:
    return [line for line in doctor(run, contact, sequence) if line[5:].split(":")[0] in names]


def test_doctor_predicts_what_the_tick_will_meet(launch: Launch) -> None:
    run = launch({"predict": PLAYBOOK}, CONTACTS, at="2026-11-25T23:00:00Z")
    assert (
        run(LATE, "enroll", "predict", "-c", "ok", "-c", "no-name", "-c", "blocked").exit_code == 0
    )
    # Bea's company asks not to be mailed after she was enrolled.
    assert run(LATE, "suppress", "@blocked.test", "--reason", "asked by legal").exit_code == 0

    assert lines_of(run, "ok", "content", "address", "next step") == [
        "ok   content: step 'hello' renders for this contact",
        "ok   address: email to ok@x.test",
        "FAIL next step: step 'hello' is due at 2026-11-27T14:00:00Z: ready at"
        " 2026-11-25T23:00:00Z, moved by the send window 09:00-17:00 (America/New_York): 18:00"
        " is outside it, then past the closed day 2026-11-26 (Thanksgiving Day)",
    ]
    missing = run(LATE, "doctor", "predict", "--contact", "no-name")
    assert missing.exit_code == 1
    assert lines_of(run, "no-name", "content") == [
        "FAIL content: step 'hello' will fail: missing variable 'contact.first_name' (no value"
        " and no default) (template line 1); seqctl contacts import a file with no-name's"
        " values, then seqctl doctor again"
    ]
    assert lines_of(run, "blocked", "address") == [
        "FAIL address: @blocked.test is suppressed (asked by legal): the tick will not send step"
        " 'hello' and ends the enrollment there"
    ]

    # The tick agrees: on Friday Olga's email is rendered, No-name's step fails for the reason
    # doctor gave, and the enrollment to the suppressed address ends there.
    friday = "--now=2026-11-27T14:00:00Z"
    assert run(friday, "tick", "--json").json["failed"] == 1
    failed = run("enrollments", "--state", "failed", "--json").json
    assert [(r["contact"], r["reason"]) for r in failed] == [
        (
            "no-name",
            "step 'hello': missing variable 'contact.first_name' (no value and no default)"
            " (template line 1)",
        )
    ]
    timeline = run("timeline", "blocked").stdout
    assert "predict hello  exited: @blocked.test is suppressed (asked by legal)" in timeline


def test_no_address_for_the_steps_channel(launch: Launch) -> None:
    run = launch({"predict": PLAYBOOK.replace("type: email", "type: sms")}, CONTACTS)
    assert run(LATE, "enroll", "predict", "-c", "no-name").exit_code == 0
    assert lines_of(run, "no-name", "address", "content") == [
        "FAIL address: step 'hello' will fail: contact has no phone for a sms step"
    ]


def test_an_action_with_a_missing_value_and_a_suppressed_phone(launch: Launch) -> None:
    playbook = """
sequence: mixed
steps:
  - id: call
    type: call
    instructions: "Ask {{ contact.first_name }} about {{ contact.budget }}"
  - id: text
    type: sms
    wait: 1 hour
    body: Thanks for the call
  - id: check
    type: branch
    wait: 1 hour
    if: "replied()"
    then: call
"""
    run = launch({"mixed": playbook}, "key,phone,first_name\np,+15550199,Pat\n")
    assert run(LATE, "enroll", "mixed", "-c", "p").exit_code == 0
    assert run(LATE, "suppress", "+15550199", "--reason", "STOP").exit_code == 0
    assert lines_of(run, "p", "content", "address", sequence="mixed") == [
        "FAIL content: step 'call' will fail: missing variable 'contact.budget' (no value and no"
        " default) (template line 1); seqctl contacts import a file with p's values, then seqctl"
        " doctor again"
    ]
    assert run(LATE, "tick").exit_code == 1  # the tick agrees: the call cannot be written
    write_budget = run("contacts", "import", "-", input="key,budget\np,high\n")
    assert write_budget.exit_code == 0
    assert run(LATE, "retry", "mixed").exit_code == 0
    assert run(LATE, "tick").exit_code == 0
    [action] = run(LATE, "actions", "--json").json
    assert run(LATE, "done", str(action["id"]), "--by", "ana").exit_code == 0
    assert lines_of(run, "p", "content", "address", sequence="mixed") == [
        "ok   content: step 'text' renders for this contact",
        "FAIL address: +15550199 is suppressed (STOP): the tick will not send step 'text' and"
        " ends the enrollment there",
    ]
