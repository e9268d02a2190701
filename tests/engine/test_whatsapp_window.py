"""WhatsApp's 24-hour window is judged when a message leaves, not when it was rendered.

Free text rendered inside the window that leaves after it closed (approved late, held by a
daily cap, retried, sent again after a crash) goes as its step's approved template, or fails
with that reason. Only an inbound message on WhatsApp opens the window.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seqctl.channels import Delivery, FileChannel, Outgoing
from seqctl.engine.run.tick import tick
from seqctl.store import open_store
from tests.conftest import Launch, Run
from tests.engine.outbox import channels_with, outbox
from tests.playbooks import auto_playbook

STEP = """
  - id: hello
    type: whatsapp
    body: "Hi {{ contact.first_name }}, thanks for writing!"
"""
TEMPLATE = (
    '    whatsapp_template: {name: follow_up, language: en, params: ["{{ contact.first_name }}"]}\n'
)
# Approval required (the default): a person says OK, maybe much later.
HELD = "sequence: wa\nowner: ana@acme.test\nsteps:\n" + STEP.lstrip("\n") + TEMPLATE
BARE = "sequence: bare\nowner: ana@acme.test\nsteps:\n" + STEP.lstrip("\n")
PEOPLE = (
    "key,phone,first_name\n"
    "ana,+15550101,Ana\n"
    "bob,+15550102,Bob\n"
    "cy,+15550103,Cy\n"
    "dee,+15550104,Dee\n"
    "eve,+15550105,Eve\n"
    "fay,+15550106,Fay\n"
)
WROTE = "--now=2026-11-23T10:00:00Z"  # when the contacts write on WhatsApp
LATER = "--now=2026-11-24T16:00:00Z"  # 30 hours after


def wrote_on_whatsapp(run: Run, *contacts: str, at: str = WROTE) -> None:
    for contact in contacts:
        recorded = run(at, "event", "inbound", "-c", contact, "--data", "channel=whatsapp")
        assert recorded.exit_code == 0, recorded.stderr


def sent(project: Path) -> dict[str, tuple[str, dict[str, object] | None]]:
    return {m["contact"]: (m["body"], m.get("template")) for m in outbox(project)}


def stored(project: Path) -> dict[int, tuple[str, str]]:
    """Each message's status and body, as the database has them."""
    with sqlite3.connect(project / "seqctl.db") as db:
        rows = db.execute("SELECT id, status, body FROM messages ORDER BY id").fetchall()
    return {i: (status, body) for i, status, body in rows}


def check(run: Run, sequence: str, contact: str, at: str, name: str) -> tuple[bool, str]:
    found = run(at, "doctor", sequence, "-c", contact, "--json").json
    [hit] = [c for c in found if c["check"] == name]
    return hit["ok"], hit["detail"]


@pytest.fixture
def held(launch: Launch) -> Run:
    run = launch({"wa": HELD, "bare": BARE}, PEOPLE, at="2026-11-23T09:00:00Z")
    wrote_on_whatsapp(run, "ana", "bob", "cy", "dee")
    assert run(WROTE, "enroll", "wa", "-c", "ana", "-c", "bob").exit_code == 0
    assert run(WROTE, "enroll", "bare", "-c", "cy", "-c", "dee").exit_code == 0
    report = run(WROTE, "tick", "--json").json
    assert report["approvals"] == 4
    # Rendered inside the window: free text, waiting for an OK.
    bodies = {m["contact"]: m["body"] for m in run("approvals", "--json").json}
    assert bodies["ana"] == "Hi Ana, thanks for writing!"
    return run


def test_approved_30_hours_after_the_inbound_it_goes_as_its_template(
    held: Run, project: Path
) -> None:
    run = held
    ok, detail = check(run, "wa", "ana", WROTE, "whatsapp")
    assert ok
    assert detail == (
        "message #1 (step 'hello') is free text, inside WhatsApp's 24-hour window until"
        " 2026-11-24T10:00:00Z (the contact last wrote on WhatsApp at 2026-11-23T10:00:00Z);"
        " sent after that, it goes as template 'follow_up'"
    )
    ok, detail = check(run, "wa", "ana", LATER, "whatsapp")
    assert ok
    assert detail == (
        "message #1 (step 'hello') is free text, but WhatsApp's 24-hour window has closed (the"
        " contact last wrote on WhatsApp at 2026-11-23T10:00:00Z): approved now, it goes as"
        " template 'follow_up' instead"
    )
    # Bob writes again in the morning: his window is open again when his message leaves.
    wrote_on_whatsapp(run, "bob", at="--now=2026-11-24T09:00:00Z")
    assert run(LATER, "approve", "1", "2").exit_code == 0
    report = run(LATER, "tick", "--json")
    assert (report.exit_code, report.json["sent"], report.json["failed"]) == (0, 2, 0)
    assert sent(project) == {
        "ana": (
            "[template follow_up (en)] Ana",
            {"name": "follow_up", "language": "en", "params": ["Ana"]},
        ),
        "bob": ("Hi Bob, thanks for writing!", None),
    }
    # The stored message is what was sent, and the timeline says why.
    assert stored(project)[1] == ("sent", "[template follow_up (en)] Ana")
    assert stored(project)[2] == ("sent", "Hi Bob, thanks for writing!")
    timeline = run("timeline", "ana", "--json").json
    assert [r["detail"] for r in timeline if r["kind"] == "sent"] == [
        "whatsapp to +15550101 as template 'follow_up' (outside the 24-hour window)"
    ]


def test_without_a_template_it_fails_with_the_reason(held: Run, project: Path) -> None:
    run = held
    assert check(run, "bare", "cy", WROTE, "whatsapp") == (
        True,
        "message #3 (step 'hello') is free text, inside WhatsApp's 24-hour window until"
        " 2026-11-24T10:00:00Z (the contact last wrote on WhatsApp at 2026-11-23T10:00:00Z);"
        " sent after that, it fails (the step has no whatsapp_template to fall back on)",
    )
    ok, detail = check(run, "bare", "cy", LATER, "whatsapp")
    reason = (
        "outside the WhatsApp 24-hour window when it was to be sent (the contact last wrote on"
        " WhatsApp at 2026-11-23T10:00:00Z) and the step has no whatsapp_template to fall back on"
    )
    assert not ok
    assert detail == (
        f"message #3 (step 'hello'), approved now, fails: {reason}; a message from the contact"
        " on WhatsApp opens the window again"
    )
    assert run(LATER, "approve", "--all", "--sequence", "bare").exit_code == 0
    report = run(LATER, "tick", "--json")
    assert (report.exit_code, report.json["sent"], report.json["failed"]) == (1, 0, 2)
    assert outbox(project) == []
    failed = run("messages", "--sequence", "bare", "--status", "failed", "--json").json
    assert [(m["contact"], m["error"], m["attempts"]) for m in failed] == [
        ("cy", reason, 0),
        ("dee", reason, 0),
    ]
    states = {e["contact"]: (e["state"], e["reason"]) for e in run("enrollments", "--json").json}
    assert states["cy"] == ("failed", f"step 'hello': {reason}")
    timeline = run("timeline", "cy", "--json").json
    assert timeline[-1]["kind"] == "failed" and timeline[-1]["detail"] == reason
    ok, detail = check(run, "bare", "cy", LATER, "failed")
    assert not ok and reason in detail
    # The messages listing shows it like any other failure.
    listed = run("messages", "--sequence", "bare", "--status", "failed").stdout
    assert "outside the WhatsApp 24-hour window" in listed


AUTO = auto_playbook("auto-wa", STEP + TEMPLATE)


def test_a_message_held_by_a_daily_cap_is_judged_when_it_goes(
    launch: Launch, project: Path
) -> None:
    capped = AUTO.replace("steps:\n", "limits: {per_day: 1}\nsteps:\n")
    run = launch({"auto-wa": capped}, PEOPLE)
    wrote_on_whatsapp(run, "ana", "bob")
    run("--now=2026-11-23T11:00:00Z", "enroll", "auto-wa", "-c", "ana", "-c", "bob")
    first = run("--now=2026-11-23T11:00:00Z", "tick", "--json").json
    assert (first["sent"], first["deferred"]) == (1, 1)
    ok, detail = check(run, "auto-wa", "bob", "--now=2026-11-23T12:00:00Z", "whatsapp")
    assert ok
    assert detail == (
        "message #2 (step 'hello') is free text, but WhatsApp's 24-hour window closes at"
        " 2026-11-24T10:00:00Z (the contact last wrote on WhatsApp at 2026-11-23T10:00:00Z): at"
        " its next attempt at 2026-11-24T11:00:00Z, it goes as template 'follow_up' instead"
    )
    second = run("--now=2026-11-24T11:00:00Z", "tick", "--json").json
    assert second["sent"] == 1
    assert sent(project) == {
        "ana": ("Hi Ana, thanks for writing!", None),
        "bob": (
            "[template follow_up (en)] Bob",
            {"name": "follow_up", "language": "en", "params": ["Bob"]},
        ),
    }


class Flaky(FileChannel):
    """Refuses every message for now (a temporary failure) until told to recover."""

    healthy = False

    def _append(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        if not Flaky.healthy:
            return [Delivery(m.id, error="connection refused", temporary=True) for m in messages]
        return super()._append(messages)


def test_a_retried_message_is_judged_again(launch: Launch, project: Path) -> None:
    run = launch({"auto-wa": AUTO}, PEOPLE)
    wrote_on_whatsapp(run, "ana")
    run("--now=2026-11-23T09:00:00Z", "enroll", "auto-wa", "-c", "ana")  # due at once
    Flaky.healthy = False
    channels = channels_with(project, Flaky)
    with open_store(project / "seqctl.db") as store:
        report = tick(store, channels, now=datetime(2026, 11, 24, 9, 30, tzinfo=UTC))
    assert (report.sent, report.failed) == (0, 0)
    [waiting] = run("messages", "--json").json
    assert (waiting["status"], waiting["error"]) == ("queued", "connection refused")
    assert stored(project) == {1: ("queued", "Hi Ana, thanks for writing!")}
    Flaky.healthy = True
    with open_store(project / "seqctl.db") as store:
        report = tick(store, channels, now=datetime(2026, 11, 24, 10, 30, tzinfo=UTC))
    assert report.sent == 1
    assert sent(project)["ana"][0] == "[template follow_up (en)] Ana"


def test_a_message_sent_again_after_a_crash_is_judged_again(launch: Launch, project: Path) -> None:
    run = launch({"wa": HELD}, PEOPLE)
    wrote_on_whatsapp(run, "ana")
    run(WROTE, "enroll", "wa", "-c", "ana")
    run(WROTE, "tick")
    run(WROTE, "approve", "1")
    # A tick died with the message on its way: the next one settles it before anything else.
    with sqlite3.connect(project / "seqctl.db") as db:
        db.execute("UPDATE messages SET status = 'sending' WHERE id = 1")
    assert run(LATER, "tick", "--json").json["sent"] == 1
    assert sent(project)["ana"][0] == "[template follow_up (en)] Ana"


def test_only_an_inbound_message_on_whatsapp_opens_the_window(
    launch: Launch, project: Path
) -> None:
    run = launch({"auto-wa": AUTO}, PEOPLE)
    at = "--now=2026-11-23T12:00:00Z"
    wrote_on_whatsapp(run, "ana")
    run(at, "event", "reply", "-c", "bob")  # an email reply
    run(at, "event", "inbound", "-c", "cy", "--data", "channel=email")
    run(at, "event", "inbound", "-c", "dee")  # no channel named: not known to be WhatsApp
    # On WhatsApp, then by text message: the WhatsApp window stays open.
    wrote_on_whatsapp(run, "eve")
    run(at, "event", "inbound", "-c", "eve", "--data", "channel=sms")
    # Written after the moment the tick runs at: not yet.
    wrote_on_whatsapp(run, "fay", at="--now=2026-11-23T14:00:00Z")
    keys = ("ana", "bob", "cy", "dee", "eve", "fay")
    run(at, "enroll", "auto-wa", *[f"--contact={k}" for k in keys])
    assert run("--now=2026-11-23T13:00:00Z", "tick", "--json").json["sent"] == 6
    free = {contact for contact, (_, template) in sent(project).items() if template is None}
    assert free == {"ana", "eve"}


def test_preview_says_which_the_tick_will_send(launch: Launch) -> None:
    run = launch({"auto-wa": AUTO}, PEOPLE)
    wrote_on_whatsapp(run, "ana")
    inside = run("--now=2026-11-23T20:00:00Z", "preview", "auto-wa", "--contact", "ana")
    assert inside.stdout.splitlines()[1:3] == [
        "  WhatsApp: free text: inside the 24-hour window until 2026-11-24T10:00:00Z (they last"
        " wrote on WhatsApp at 2026-11-23T10:00:00Z)",
        "  | Hi Ana, thanks for writing!",
    ]
    outside = run(
        "--now=2026-11-23T20:00:00Z",
        "preview",
        "auto-wa",
        "--contact",
        "ana",
        "--start",
        "2026-11-24T16:00:00Z",
        "--json",
    ).json
    assert (outside[0]["body"], outside[0]["whatsapp"]) == (
        "[template follow_up (en)] Ana",
        "template follow_up: outside the 24-hour window (they last wrote on WhatsApp at"
        " 2026-11-23T10:00:00Z)",
    )


def test_a_dry_run_reads_the_window_as_the_tick_does(launch: Launch) -> None:
    bare = auto_playbook("auto-bare", STEP)  # no template: outside the window, it fails
    run = launch({"auto-bare": bare}, PEOPLE)
    wrote_on_whatsapp(run, "ana")
    run(WROTE, "enroll", "auto-bare", "-c", "ana", "-c", "bob")
    dry = run(WROTE, "tick", "--dry-run", "--json").json
    real = run(WROTE, "tick", "--json").json
    assert (dry["sent"], dry["failed"]) == (real["sent"], real["failed"]) == (1, 1)


def test_a_variant_goes_as_its_own_template(launch: Launch, project: Path) -> None:
    tested = (
        "sequence: ab\nowner: ana@acme.test\nsteps:\n"
        + STEP.lstrip("\n")
        + TEMPLATE
        + "    variants:\n"
        "      - id: a\n"
        "      - id: b\n"
        "        whatsapp_template:\n"
        '          {name: follow_up_b, language: pt_BR, params: ["{{ contact.key }}"]}\n'
        "    winner: b\n"  # everyone gets b
    )
    run = launch({"ab": tested}, PEOPLE)
    wrote_on_whatsapp(run, "ana")
    run(WROTE, "enroll", "ab", "-c", "ana")
    run(WROTE, "tick")
    run(LATER, "approve", "1")
    assert run(LATER, "tick", "--json").json["sent"] == 1
    assert sent(project)["ana"] == (
        "[template follow_up_b (pt_BR)] ana",
        {"name": "follow_up_b", "language": "pt_BR", "params": ["ana"]},
    )


def test_a_template_that_does_not_render_fails_with_the_reason(launch: Launch) -> None:
    lacking = HELD.replace('contact.first_name }}"]', 'contact.company }}"]')
    assert lacking != HELD
    run = launch({"wa": lacking}, PEOPLE)
    wrote_on_whatsapp(run, "ana")
    run(WROTE, "enroll", "wa", "-c", "ana")
    run(WROTE, "tick")
    ok, detail = check(run, "wa", "ana", LATER, "whatsapp")
    assert not ok and "its whatsapp_template fails:" in detail and "company" in detail
    run(LATER, "approve", "1")
    assert run(LATER, "tick", "--json").json["failed"] == 1
    [failed] = run("messages", "--status", "failed", "--json").json
    assert failed["error"].startswith(
        "outside the WhatsApp 24-hour window when it was to be sent (the contact last wrote on"
        " WhatsApp at 2026-11-23T10:00:00Z) and its whatsapp_template fails: "
    )
    assert "company" in failed["error"]


def test_channel_auto_keeps_the_channel_it_chose(launch: Launch, project: Path) -> None:
    auto = (
        "sequence: reach\nowner: ana@acme.test\nsteps:\n"
        "  - id: hello\n    type: email\n    channel: auto\n    subject: Hi\n"
        '    body: "Hi {{ contact.first_name }}"\n' + TEMPLATE
    )
    run = launch({"reach": auto}, "key,email,phone,first_name\nann,ann@x.test,+15550109,Ann\n")
    wrote_on_whatsapp(run, "ann")
    run(WROTE, "enroll", "reach", "-c", "ann")
    run(WROTE, "tick")
    [waiting] = run("approvals", "--json").json
    assert (waiting["channel"], waiting["body"]) == ("whatsapp", "Hi Ann")
    run(LATER, "approve", "--all")
    assert run(LATER, "tick", "--json").json["sent"] == 1
    [message] = outbox(project)
    assert (message["channel"], message["body"]) == ("whatsapp", "[template follow_up (en)] Ann")
