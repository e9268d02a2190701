"""Opt-outs follow the address: whoever carries an unsubscribed address is never messaged there."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqctl.store import open_store
from tests.conftest import Launch, Run
from tests.engine.outbox import outbox
from tests.playbooks import auto_playbook

NEWS = auto_playbook(
    "news",
    """
  - id: hello
    type: email
    subject: Hi
    body: Hello
  - id: follow-up
    type: email
    wait: 2 days
    subject: Again
    body: Still there?
""",
)
TEXTS = auto_playbook("texts", "  - id: ping\n    type: sms\n    body: Hi from Acme\n")
HELD = "sequence: held\nsteps:\n  - id: offer\n    type: email\n    subject: Offer\n    body: Hi\n"
# Two keys for one person (a CRM import and a web form): the same address, written differently.
PEOPLE = (
    "key,email,phone,country\n"
    "ann,Ann@Example.com,(11) 98765-4321,BR\n"
    "ann-crm, ann@example.COM,+55 11 98765-4321,\n"
    "bob,bob@example.com,+1 415 555 0100,US\n"
)
T0 = "--now=2026-11-23T14:00:00Z"


@pytest.fixture
def run(launch: Launch) -> Run:
    return launch({"news": NEWS, "texts": TEXTS, "held": HELD}, PEOPLE)


def states(run: Run, sequence: str) -> dict[str, tuple[str, str | None]]:
    listed = run("enrollments", sequence, "--json").json
    return {e["contact"]: (e["state"], e["reason"]) for e in listed}


def test_an_unsubscribe_by_one_key_stops_every_key_with_that_address(
    run: Run, project: Path
) -> None:
    run(T0, "enroll", "news", "-c", "ann", "-c", "ann-crm")
    run(T0, "tick")
    event = run("--now=2026-11-24T09:00:00Z", "event", "unsubscribe", "-c", "ann", "--json")
    assert event.json["exited"] == 1
    tick = run("--now=2026-11-25T14:00:00Z", "tick")

    # The tick says why nothing went to ann-crm: its address opted out.
    assert tick.stdout.startswith("handled 1 due: 0 sent,")
    assert ", 1 suppressed," in tick.stdout
    assert states(run, "news") == {
        "ann": ("exited", "unsubscribed"),
        "ann-crm": ("exited", "suppressed"),  # another key, the same address: not mailed
    }
    assert [m["step"] for m in outbox(project)] == ["hello", "hello"]
    # No channel named: every address of ann, for every key that has one of them.
    entries = {(e["value"], e["kind"], e["by"]) for e in run("suppressions", "--json").json}
    assert entries == {
        ("ann@example.com", "email", "contact ann"),
        ("+5511987654321", "phone", "contact ann"),
    }
    refused = run("--now=2026-11-26T09:00:00Z", "enroll", "texts", "-c", "ann-crm", "--json")
    assert refused.exit_code == 1
    assert refused.json["refused"] == [
        {"contact": "ann-crm", "reason": "suppressed: +5511987654321 (unsubscribed)"}
    ]


def test_a_stop_by_text_suppresses_the_number_however_it_is_written(run: Run) -> None:
    run(T0, "enroll", "texts", "-c", "ann-crm")
    run(T0, "enroll", "news", "-c", "ann-crm")
    stop = run(
        "--now=2026-11-23T15:00:00Z",
        "event",
        "inbound",
        "-c",
        "ann-crm",
        "--data",
        "channel=whatsapp",
        "--data",
        "text=Parar",
    )
    assert stop.exit_code == 0, stop.stderr
    assert states(run, "texts")["ann-crm"] == ("exited", "unsubscribed")
    [entry] = run("suppressions", "--json").json
    assert (entry["value"], entry["kind"], entry["reason"]) == (
        "+5511987654321",
        "phone",
        "opted out by whatsapp: Parar",
    )
    # ann's number is written "(11) 98765-4321" with country BR: the same number.
    texts = run("--now=2026-11-24T09:00:00Z", "enroll", "texts", "-c", "ann", "--json")
    assert texts.json["refused"] == [
        {"contact": "ann", "reason": "suppressed: +5511987654321 (opted out by whatsapp: Parar)"}
    ]
    # The opt-out was by text: email to her is still allowed.
    assert run("--now=2026-11-24T09:00:00Z", "enroll", "news", "-c", "ann").exit_code == 0


def test_a_word_that_is_not_stop_is_just_an_inbound_message(run: Run) -> None:
    run(T0, "enroll", "texts", "-c", "bob")
    run(T0, "event", "inbound", "-c", "bob", "--data", "channel=sms", "--data", "text=stop by?")
    assert states(run, "texts")["bob"][0] == "active"
    assert run("suppressions", "--json").json == []


def test_a_message_waiting_for_approval_is_cancelled_once_its_address_is_suppressed(
    run: Run, project: Path
) -> None:
    run(T0, "enroll", "held", "-c", "bob")
    run(T0, "tick")
    [pending] = run("approvals", "--json").json
    suppressed = run(
        "--now=2026-11-23T15:00:00Z",
        "suppress",
        "BOB@example.com",
        "--reason",
        "asked on the phone",
        "--by",
        "lee@acme.test",
    )
    assert suppressed.stdout == "suppressed 1 new (0 already on the list)\n"
    run("--now=2026-11-23T15:05:00Z", "approve", str(pending["id"]))
    tick = run("--now=2026-11-23T15:10:00Z", "tick", "--json").json
    assert (tick["sent"], tick["suppressed"]) == (0, 1) and outbox(project) == []
    [message] = run("messages", "--json").json
    assert (message["status"], message["error"]) == (
        "cancelled",
        "bob@example.com is suppressed (asked on the phone)",
    )
    assert states(run, "held")["bob"] == ("exited", "suppressed")


def test_suppress_unsuppress_and_the_list_say_who_when_and_why(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "ana")
    added = run(
        T0, "suppress", "Bob@Example.com", "@Rival.test", "+1 (415) 555-0100", "--json"
    ).json
    assert added == {
        "changed": ["bob@example.com", "@rival.test", "+14155550100"],
        "unchanged": [],
    }
    again = run(T0, "suppress", "bob@example.com")
    assert again.stdout == "suppressed 0 new (1 already on the list)\n"
    # A contact key stands for that contact's addresses.
    run(T0, "suppress", "ann", "--reason", "legal hold", "--by", "lee")
    listed = {
        e["value"]: (e["reason"], e["by"], e["at"]) for e in run("suppressions", "--json").json
    }
    assert listed["ann@example.com"] == ("legal hold (contact ann)", "lee", "2026-11-23T14:00:00Z")
    assert listed["bob@example.com"] == ("manual", "ana", "2026-11-23T14:00:00Z")
    assert "+5511987654321" in listed

    bad = run(T0, "suppress", "nobody-known")
    assert bad.exit_code == 2
    assert "'nobody-known' is not an email address" in bad.stderr

    lifted = run(
        "--now=2026-11-24T10:00:00Z", "unsuppress", "BOB@example.com", "--reason", "opted in"
    )
    assert lifted.stdout == "unsuppressed 1\n"
    missing = run("--now=2026-11-24T10:00:00Z", "unsuppress", "bob@example.com")
    assert (missing.exit_code, missing.stderr.strip()) == (
        2,
        "seqctl: 'bob@example.com' is not on the suppression list",
    )
    history = run("suppressions", "--history", "--json").json
    assert [
        (h["value"], h["change"], h["by"], h["reason"]) for h in history if "bob" in h["value"]
    ] == [
        ("bob@example.com", "added", "ana", "manual"),
        ("bob@example.com", "lifted", "ana", "opted in"),
    ]
    # Lifted: bob can be enrolled and mailed again.
    assert run("--now=2026-11-24T10:00:00Z", "enroll", "news", "-c", "bob").exit_code == 0
    table = run("suppressions").stdout.splitlines()
    assert table[0].split() == ["VALUE", "KIND", "REASON", "BY", "SINCE"]


def test_a_stop_from_a_contact_without_a_phone_still_ends_their_sequences(run: Run) -> None:
    assert run("contacts", "import", "-", input="key,email\ndan,dan@example.com\n").exit_code == 0
    run(T0, "enroll", "news", "-c", "dan")
    report = run(T0, "event", "inbound", "-c", "dan", "--data", "text=STOP", "--json").json
    assert report["exited"] == 1
    assert states(run, "news")["dan"] == ("exited", "unsubscribed")
    assert run("suppressions", "--json").json == []  # no number to put on the list


def test_a_message_left_in_flight_is_not_sent_again_to_an_address_that_opted_out(
    run: Run, project: Path
) -> None:
    # Webhooks cannot be asked what they got: a message a dead tick left `sending` goes again.
    (project / "seqctl.yaml").write_text(
        "channels:\n  email: {kind: webhook, url: 'http://127.0.0.1:9/mail'}\n"
    )
    run(T0, "enroll", "held", "-c", "bob")
    run(T0, "tick")
    [pending] = run("approvals", "--json").json
    run("--now=2026-11-23T15:00:00Z", "approve", str(pending["id"]))
    with open_store(project / "seqctl.db") as store, store.transaction():
        store.set_message_status([pending["id"]], "sending")  # the tick that sent it died
    run("--now=2026-11-23T15:05:00Z", "suppress", "bob@example.com", "--reason", "asked")

    tick = run("--now=2026-11-23T15:10:00Z", "tick", "--json").json

    assert (tick["sent"], tick["suppressed"]) == (0, 1)
    [message] = run("messages", "--json").json
    assert message["status"] == "cancelled" and "suppressed" in message["error"]
