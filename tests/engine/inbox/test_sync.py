"""`seqctl inbox sync` against a real IMAP server (Dovecot), for contacts in running sequences.

The mail seqctl sends goes through its SMTP channel to a real SMTP server (aiosmtpd); the
replies, automatic replies and bounces that come back quote the Message-IDs it really put on
that mail. Then: the right enrollments stop, pause until the stated date or are suppressed,
nothing else changes, and a second sync changes nothing.
"""

from __future__ import annotations

import imaplib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.channels.test_smtp import Mailbox, Server, _serve
from tests.conftest import Launch, Run
from tests.engine.inbox import mails
from tests.playbooks import auto_playbook

FOLLOW = auto_playbook(
    "follow",
    """
  - id: hello
    type: email
    subject: Hi
    body: Hello there
  - id: nudge
    type: email
    wait: 2 days
    subject: Any news?
    body: Just checking
  - id: call
    type: call
    wait: 1 day
""",
    settings="sender: {name: Ana Lima, email: ana@acme.test}\n",
)
OTHER = auto_playbook(
    "other",
    """
  - id: intro
    type: email
    subject: From Bruno
    body: Hello from Bruno
  - id: later
    type: email
    wait: 3 days
    subject: Later
    body: Later
""",
    settings="sender: {name: Bruno, email: bruno@acme.test}\n",
)
CONTACTS = (
    "gmail outlook apple thunder html fwd ooo_en ooo_de ooo_pt ooo_es ooo_none"
    " postfix exim o365 gbounce soft unsub quiet both"
).split()
ENROLLED = "2026-11-23T14:00:00Z"
SYNC = "2026-11-24T12:00:00Z"


def config(smtp_port: int, imap_port: int, **inbox: Any) -> str:
    settings = {
        "host": "127.0.0.1",
        "port": imap_port,
        "security": "none",
        "username_env": "IMAP_USER",
        "password_env": "IMAP_PASSWORD",
        "folders": ["INBOX", "Bounces"],
        "senders": ["ana@acme.test"],
        **inbox,
    }
    return (
        "channels:\n"
        f"  email: {{kind: smtp, host: 127.0.0.1, port: {smtp_port}, security: none,"
        ' from: "Ana Lima <ana@acme.test>",'
        " unsubscribe_url: 'mailto:unsubscribe+{contact}@acme.test'}\n"
        f"inboxes:\n  ana: {json.dumps(settings)}\n"
    )


@pytest.fixture
def smtp() -> Iterator[Server]:
    yield from _serve(Mailbox())


@dataclass
class Scenario:
    run: Run
    imap: Any
    smtp: Server
    sent: dict[str, mails.Sent]  # by contact key: the first email seqctl sent them
    raw_sent: dict[str, bytes]

    def sync(self, at: str = SYNC) -> dict[str, Any]:
        result = self.run(f"--now={at}", "inbox", "sync", "--json")
        assert result.exit_code == 0, result.stdout + result.stderr
        data: dict[str, Any] = result.json
        return data

    def state(self, contact: str, sequence: str = "follow") -> tuple[str, str | None]:
        [row] = self.run("enrollments", sequence, "--contact", contact, "--json").json
        return row["state"], row["reason"]

    def snapshot(self) -> tuple[Any, ...]:
        """Everything a sync could change: enrollments, suppressions, events, history."""
        run = self.run
        timelines = [run("timeline", key, "--json").json for key in CONTACTS]
        return (
            run("enrollments", "--json").json,
            run("suppressions", "--json").json,
            timelines,
            run("messages", "--json").json,
        )


def launch_scenario(
    launch: Launch, write: Callable[[str, str], Path], imap: Any, smtp: Server, **inbox: Any
) -> Scenario:
    write("seqctl.yaml", config(smtp.port, imap.port, **inbox))
    rows = "".join(f"{key},{key}@example.com\n" for key in CONTACTS)
    run = launch({"follow": FOLLOW, "other": OTHER}, "key,email\n" + rows)
    args = [arg for key in CONTACTS for arg in ("-c", key)]
    assert run(f"--now={ENROLLED}", "enroll", "follow", *args).exit_code == 0
    assert run(f"--now={ENROLLED}", "enroll", "other", "-c", "both").exit_code == 0
    ticked = run(f"--now={ENROLLED}", "tick", "--json")
    assert ticked.json["sent"] == len(CONTACTS) + 1, ticked.stdout + ticked.stderr
    sent: dict[str, mails.Sent] = {}
    raw: dict[str, bytes] = {}
    for received in smtp.mailbox.received:
        message = received.message
        if message["Subject"] != "Hi":
            continue
        key = received.recipients[0].split("@")[0]
        sent[key] = mails.Sent(
            message["Message-ID"], received.recipients[0], "Hi",
            message["X-Seqctl-Idempotency-Key"],
        )  # fmt: skip
        raw[key] = message.as_bytes()
    return Scenario(run, imap, smtp, sent, raw)


def fill_mailbox(s: Scenario) -> None:
    """The mail of Tuesday morning: replies, automatic replies, bounces, and what is no one's."""
    sent = s.sent
    at = iter(f"Tue, 24 Nov 2026 09:{minute:02d}:00 +0000" for minute in range(60))

    def reply(key: str, name: str) -> dict[str, str]:
        return {"sender": f"{name} <{key}@example.com>", "body": "Yes, let's talk.",
                "date": next(at), "mid": f"reply-{key}"}  # fmt: skip

    inbox = [
        mails.gmail_reply(sent["gmail"], **reply("gmail", "Gina")),
        mails.outlook_reply(sent["outlook"], **reply("outlook", "Otto")),
        mails.apple_mail_reply(sent["apple"], **reply("apple", "Abby")),
        mails.thunderbird_reply(sent["thunder"], **reply("thunder", "Theo")),
        mails.html_only_reply(
            sender="Hal <html@example.com>",
            subject="Your offer",
            body="Call me.",
            date=next(at),
            mid="html-1",
        ),  # fmt: skip
        mails.forwarded_reply(
            sent["fwd"],
            sender="Colleague <cole@fwd-corp.example>",
            body="I handle this now.",
            date=next(at),
            mid="fwd-1",
        ),  # fmt: skip
        mails.outlook_out_of_office(
            sent["ooo_en"],
            sender="<ooo_en@example.com>",
            date=next(at),
            mid="oof-1",
            body="I am out of the office and will return on Monday, December 7.",
        ),  # fmt: skip
        mails.auto_reply(
            sender="<ooo_de@example.com>",
            subject="Abwesenheitsnotiz",
            date=next(at),
            mid="oof-2",
            headers="X-Autoreply: yes",
            body="Ich bin bis einschließlich 04.12. nicht im Büro und ab dem 7. Dezember"
            " wieder erreichbar.",
        ),  # fmt: skip
        mails.auto_reply(
            sender="<ooo_pt@example.com>",
            subject="Resposta automática: Hi",
            date=next(at),
            mid="oof-3",
            headers="X-Autorespond: yes",
            in_reply_to=sent["ooo_pt"].message_id,
            body="Estou de férias e estarei de volta em 07/12.",
        ),  # fmt: skip
        mails.auto_reply(
            sender="<ooo_es@example.com>",
            subject="Respuesta automática: Hi",
            date=next(at),
            mid="oof-4",
            headers="Precedence: auto_reply",
            in_reply_to=sent["ooo_es"].message_id,
            body="Estoy fuera de la oficina hasta el 4 de diciembre.",
        ),  # fmt: skip
        mails.auto_reply(
            sender="<ooo_none@example.com>",
            subject="Out of office",
            date=next(at),
            mid="oof-5",
            in_reply_to=sent["ooo_none"].message_id,
            body="I'm travelling with limited access to email.",
        ),  # fmt: skip
        mails.unsubscribe_request(
            sender="<unsub@example.com>",
            to="unsubscribe+unsub@acme.test",
            date=next(at),
            mid="unsub-1",
        ),  # fmt: skip
        mails.stranger(sender="<both@example.com>", subject="Re: Hi", date=next(at), mid="both-1"),
        mails.newsletter(sender="Quiet News <quiet@example.com>", date=next(at), mid="news-1"),
        mails.stranger(sender="<someone@elsewhere.example>", date=next(at), mid="stranger-1"),
        mails.no_headers(),
        mails.broken_mime(sender="<junk@elsewhere.example>", date=next(at), mid="junk-1"),
        mails.unknown_charset(sender="<junk2@elsewhere.example>", date=next(at), mid="junk-2"),
        # Bigger than what is fetched of a message (test_options has one of 30 MB).
        mails.huge(sender="<big@elsewhere.example>", date=next(at), mid="big-1", megabytes=1),
        s.raw_sent["quiet"],  # a copy of what seqctl sent (a Bcc to the sender)
    ]
    bounces = [
        mails.postfix_bounce(sent["postfix"], date=next(at)),
        mails.exim_bounce(sent["exim"], date=next(at)),
        mails.office365_bounce(sent["o365"], date=next(at)),
        mails.gmail_bounce(sent["gbounce"], date=next(at)),
        mails.postfix_bounce(sent["soft"], date=next(at), status="4.2.2", action="delayed"),
        inbox[0],  # the same reply filed in two folders: one event
    ]
    for raw in inbox:
        s.imap.deliver(raw)
    for raw in bounces:
        s.imap.deliver(raw, folder="Bounces")


@pytest.fixture
def scenario(
    launch: Launch, write: Callable[[str, str], Path], imap: Any, smtp: Server
) -> Scenario:
    s = launch_scenario(launch, write, imap, smtp)
    fill_mailbox(s)
    return s


def test_a_sync_stops_pauses_and_suppresses_the_right_enrollments(scenario: Scenario) -> None:
    s = scenario
    report = s.sync()

    assert report["read"] == 26
    assert report["events"] == {"reply": 7, "out_of_office": 5, "bounce": 5, "unsubscribe": 1}
    assert (report["duplicates"], report["unmatched"], report["ignored"]) == (1, 4, 2)
    assert report["skipped"] == [
        {"mail": "ana/INBOX UID 16", "reason": "no headers: not a mail message"}
    ]
    assert (report["exited"], report["paused"], report["errors"]) == (12, 5, [])
    replied = ("gmail", "outlook", "apple", "thunder", "html", "fwd", "both")
    assert {key: s.state(key) for key in replied} == dict.fromkeys(replied, ("exited", "replied"))
    paused = ("ooo_en", "ooo_de", "ooo_pt", "ooo_es", "ooo_none")
    expected = dict.fromkeys(paused, ("paused", "out of office"))
    assert {key: s.state(key) for key in paused} == expected
    bounced = ("postfix", "exim", "o365", "gbounce")
    assert {key: s.state(key) for key in bounced} == dict.fromkeys(bounced, ("exited", "bounced"))
    assert s.state("unsub") == ("exited", "unsubscribed")
    # A soft bounce is recorded only; the quiet contact and Bruno's sequence are untouched.
    assert s.state("soft") == s.state("quiet") == ("active", None)
    assert s.state("both", "other") == ("active", None)
    suppressed = {row["value"]: row["reason"] for row in s.run("suppressions", "--json").json}
    assert sorted(suppressed) == sorted([f"{key}@example.com" for key in [*bounced, "unsub"]])
    assert suppressed["unsub@example.com"].startswith("unsubscribed")


def test_the_text_report_for_people(scenario: Scenario) -> None:
    result = scenario.run(f"--now={SYNC}", "inbox", "sync")

    assert result.exit_code == 0  # skipped junk is said, not a failure
    assert result.stdout == (
        "read 26 messages: 7 replies, 5 out-of-office replies, 5 bounces, 1 unsubscribe"
        " (1 already known); 4 matched nobody, 2 ignored, 1 skipped; 12 enrollments exited,"
        " 5 paused\n"
    )
    assert result.stderr == "ana/INBOX UID 16: skipped: no headers: not a mail message\n"


def test_the_pause_of_an_out_of_office_reply_ends_on_the_stated_date(scenario: Scenario) -> None:
    s = scenario
    s.sync()

    backs = {}
    for key in ("ooo_en", "ooo_de", "ooo_pt", "ooo_es", "ooo_none"):
        [row] = [r for r in s.run("timeline", key, "--json").json if r["kind"] == "out_of_office"]
        backs[key] = row["detail"].rsplit("back ", 1)[1]
    assert backs == {
        "ooo_en": "2026-12-07T00:00:00Z",
        "ooo_de": "2026-12-07T00:00:00Z",
        "ooo_pt": "2026-12-07T00:00:00Z",
        "ooo_es": "2026-12-05T00:00:00Z",
        "ooo_none": "2026-12-01T09:10:00Z",  # no date stated: the default 7 days
    }
    # Wednesday: the nudge goes to those still active only.
    before = len(s.smtp.mailbox.received)
    s.run("--now=2026-11-25T14:00:00Z", "tick")
    nudged = sorted(r.recipients[0] for r in s.smtp.mailbox.received[before:])
    assert nudged == ["quiet@example.com", "soft@example.com"]
    s.run("--now=2026-12-05T01:00:00Z", "tick")
    assert s.state("ooo_es")[0] == "active" and s.state("ooo_none")[0] == "active"
    assert s.state("ooo_de") == ("paused", "out of office")
    s.run("--now=2026-12-07T01:00:00Z", "tick")
    assert [s.state(key)[0] for key in ("ooo_en", "ooo_de", "ooo_pt")] == ["active"] * 3


def test_a_second_sync_and_a_renumbered_folder_change_nothing(scenario: Scenario) -> None:
    s = scenario
    s.sync()
    after_first = s.snapshot()

    again = s.sync("2026-11-24T12:01:00Z")
    assert (again["read"], again["events"]["reply"], again["exited"]) == (0, 0, 0)
    s.imap.set_uidvalidity(4242)  # the server renumbered INBOX: it is read again
    renumbered = s.sync("2026-11-24T12:02:00Z")

    assert renumbered["read"] == 20
    assert sum(renumbered["events"].values()) == 0
    # The two replies matched by address now match nobody: their enrollments have ended.
    assert (renumbered["duplicates"], renumbered["unmatched"]) == (11, 4 + 2)
    assert [f["reset"] for f in renumbered["folders"]] == [True, False]
    assert s.snapshot() == after_first


def test_mail_that_arrives_later_is_read_by_the_next_sync_only(scenario: Scenario) -> None:
    s = scenario
    s.sync()
    s.imap.deliver(
        mails.gmail_reply(
            s.sent["quiet"], sender="<quiet@example.com>", body="OK!",
            date="Tue, 24 Nov 2026 13:00:00 +0000", mid="late-1",
        )
    )  # fmt: skip

    report = s.sync("2026-11-24T13:05:00Z")

    assert (report["read"], report["events"]["reply"]) == (1, 1)
    assert s.state("quiet") == ("exited", "replied")


def test_timeline_doctor_and_status_say_where_an_event_came_from_and_why(
    scenario: Scenario,
) -> None:
    s = scenario
    s.sync()
    message_id = s.sent["gmail"].message_id

    [row] = [r for r in s.run("timeline", "gmail", "--json").json if r["kind"] == "reply"]
    assert row["detail"] == (
        f"from the mailbox ana/INBOX, matched by In-Reply-To {message_id}: written by a person"
        " (no automatic-reply header or subject)"
    )
    [row] = [r for r in s.run("timeline", "html", "--json").json if r["kind"] == "reply"]
    assert (
        "matched by sender address html@example.com (a contact with a live enrollment)"
        in (row["detail"])
    )
    [row] = [r for r in s.run("timeline", "postfix", "--json").json if r["kind"] == "bounce"]
    assert row["detail"].startswith(
        "from the mailbox ana/Bounces, matched by X-Seqctl-Idempotency-Key"
    )
    assert "delivery status notification: 5.1.1 failed for postfix@example.com" in row["detail"]
    assert row["detail"].endswith("kind=hard")

    doctor = {c["check"]: c for c in s.run("doctor", "follow", "-c", "gmail", "--json").json}
    assert not doctor["events"]["ok"]
    assert "from the mailbox ana/INBOX, matched by In-Reply-To" in doctor["events"]["detail"]
    assert doctor["mailbox"]["ok"]
    assert doctor["mailbox"]["detail"].startswith("read at 2026-11-24T12:00:00Z:")
    doctor = {c["check"]: c for c in s.run("doctor", "follow", "-c", "ooo_de", "--json").json}
    assert doctor["events"]["detail"].startswith("out of office at 2026-11-24T09:07:00Z")
    assert "back 2026-12-07" in doctor["events"]["detail"]

    status = s.run("status", "follow", "--json").json
    assert status["mailbox"] == {"bounce": 5, "out_of_office": 5, "reply": 7, "unsubscribe": 1}
    text = s.run("status").stdout
    assert "from the mailbox: 7 replies, 5 out of office, 5 bounces, 1 unsubscribe" in text
    assert "inbox ana/INBOX read at 2026-11-24T12:00:00Z" in text
    folders = s.run("inbox", "status", "--json").json
    assert [(f["folder"], f["messages"], f["error"]) for f in folders] == [
        ("Bounces", 6, None),
        ("INBOX", 20, None),
    ]


def flags(imap: Any, folder: str = "INBOX") -> dict[int, str]:
    """Each message's UID and flags, as a mail client sees them."""
    client = imaplib.IMAP4("127.0.0.1", imap.port)
    try:
        client.login(imap.user, imap.password)
        client.select(f'"{folder}"', readonly=True)
        _, data = client.uid("FETCH", "1:*", "(UID FLAGS)")
    finally:
        client.logout()
    found = {}
    for line in data:
        text = line.decode() if isinstance(line, bytes) else ""
        uid, flag = re.search(r"UID (\d+)", text), re.search(r"FLAGS \(([^)]*)\)", text)
        if uid and flag:
            found[int(uid.group(1))] = flag.group(1).replace("\\Recent", "").strip()
    return found


def test_the_mailbox_is_left_as_it_was(scenario: Scenario) -> None:
    s = scenario

    s.sync()

    assert flags(s.imap) == dict.fromkeys(range(1, 21), "")  # none seen, none moved
    assert flags(s.imap, "Bounces") == dict.fromkeys(range(1, 7), "")


def test_a_tick_reads_the_inbox_before_it_sends(scenario: Scenario) -> None:
    s = scenario
    before = len(s.smtp.mailbox.received)

    result = s.run("--now=2026-11-25T14:00:00Z", "tick", "--json")

    assert result.exit_code == 0, result.stderr
    report = result.json
    assert report["inbox"]["events"]["reply"] == 7
    assert report["sent"] == 2  # the nudge, to the only two still active
    assert sorted(r.recipients[0] for r in s.smtp.mailbox.received[before:]) == [
        "quiet@example.com",
        "soft@example.com",
    ]
    text = s.run("--now=2026-11-25T14:01:00Z", "tick")
    assert text.exit_code == 0 and "inbox" not in text.stdout  # nothing new: nothing said
