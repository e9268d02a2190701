"""A 500-contact sequence delivered by `seqctl tick` to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.channels.test_smtp import Mailbox, Server, _serve
from tests.conftest import Launch
from tests.playbooks import auto_playbook

PLAYBOOK = auto_playbook(
    "welcome",
    """
  - id: hello
    type: email
    subject: "Welcome, {{ contact.first_name | default('friend') }}"
    body: "Hi {{ contact.first_name | default('there') }},\\n\\nWelcome aboard.\\n"
    html: "<p>Hi {{ contact.first_name | default('there') }}, <b>welcome</b>.</p>"
    attachments: [guide.pdf]
""",
    settings="sender: {name: Ana Lima, email: ana@acme.test}\n",
)


@pytest.fixture
def smtp() -> Iterator[Server]:
    yield from _serve(Mailbox())


def test_tick_sends_a_500_contact_sequence_over_smtp(
    launch: Launch, write: Callable[[str, str], Path], project: Path, smtp: Server
) -> None:
    (project / "playbooks" / "guide.pdf").write_bytes(b"%PDF-1.4 guide")
    write(
        "seqctl.yaml",
        f"channels:\n  email: {{kind: smtp, host: 127.0.0.1, port: {smtp.port},"
        " security: none, unsubscribe_url: 'https://acme.test/u/{contact}'}\n",
    )
    names = ["Ana", "Bruno", "", "Chloé\r\nBcc: evil@example.com"]
    rows = "".join(f'c{i},c{i}@example.com,"{names[i % 4]}"\n' for i in range(500))
    run = launch({"welcome": PLAYBOOK}, "key,email,first_name\n" + rows)
    run("--now=2026-11-23T08:00:00Z", "enroll", "welcome", "--file", "c.csv")
    report = run("--now=2026-11-23T08:00:00Z", "tick", "--json").json
    assert (report["sent"], report["failed"]) == (500, 0)
    received = smtp.mailbox.received
    assert len(received) == 500
    assert len(smtp.mailbox.sessions) == 4  # the default `connections`, kept for the tick
    by_to = {r.recipients[0]: r.message for r in received}
    first = by_to["c0@example.com"]
    assert first["From"] == "Ana Lima <ana@acme.test>"
    assert first["Subject"] == "Welcome, Ana"
    assert first["List-Unsubscribe"] == "<https://acme.test/u/c0>"
    assert first["Message-ID"] == by_to["c0@example.com"]["Message-ID"]
    # Under --now the mail is dated at that time (a replay reads as it would have been sent).
    assert first["Date"] == "Mon, 23 Nov 2026 08:00:00 +0000"
    assert by_to["c2@example.com"]["Subject"] == "Welcome, friend"
    parts = [part.get_content_type() for part in first.walk()]
    assert "text/plain" in parts and "text/html" in parts
    [guide] = [p for p in first.walk() if p.get_filename() == "guide.pdf"]
    assert (
        hashlib.sha256(guide.get_content()).hexdigest()
        == hashlib.sha256(b"%PDF-1.4 guide").hexdigest()
    )
    # A newline in a contact's name never becomes a header.
    injected = by_to["c3@example.com"]
    assert injected["Bcc"] is None
    assert "\n" not in injected["Subject"]
    assert all(r.recipients == [r.recipients[0]] for r in received)
    ids = {r.message["Message-ID"] for r in received}
    assert len(ids) == 500
