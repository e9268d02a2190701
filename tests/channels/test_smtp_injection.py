"""No text from data can add a header to an email: checked on the raw bytes a real SMTP server
(aiosmtpd on 127.0.0.1) receives, for the issue's attacks and for whatever hypothesis makes."""

from __future__ import annotations

import base64
import quopri
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqctl.channels import send_all
from seqctl.channels.mime import one_line
from seqctl.channels.smtp import SmtpChannel
from tests.channels.conftest import free_port, outgoing
from tests.conftest import Launch, Write
from tests.playbooks import auto_playbook

FROM = "Ana Lima <ana@acme.test>"
BODY = "Hi,\n\nBcc: not-a-header@example.com\n\nJust checking in.\n"
TOP = ["From", "To", "Subject", "Date", "Message-ID", "X-Seqctl-Idempotency-Key"]
PLAIN_HEADERS = sorted([*TOP, "MIME-Version", "Content-Type", "Content-Transfer-Encoding"])
MIXED_HEADERS = sorted([*TOP, "MIME-Version", "Content-Type"])  # with an attachment


@dataclass
class Raw:
    """An SMTP handler that keeps the bytes of each message exactly as they arrived."""

    messages: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(bytes(envelope.original_content))
        return "250 2.0.0 Ok: queued"


@dataclass
class Received:
    raw: bytes
    names: list[str]  # the header names in the raw header block, sorted
    message: EmailMessage  # the same bytes as a mail program reads them


@dataclass
class Server:
    handler: Raw
    port: int

    def send(self, **fields: Any) -> Received:
        """Send one message through a fresh channel; what the server received."""
        spec = {"kind": "smtp", "host": "127.0.0.1", "port": self.port, "from": FROM}
        spec.update(fields.pop("spec", {}))
        channel = SmtpChannel(spec, name="email", environ={})
        self.handler.messages.clear()
        [delivery] = send_all(channel, [outgoing(**{"body": BODY, **fields})])
        assert delivery.ok, delivery.error
        [raw] = self.handler.messages
        return Received(raw, sorted(header_names(raw)), parse(raw))


def header_names(raw: bytes) -> list[str]:
    """The names of the headers of the top-level header block, checking every line of it."""
    head, blank, _ = raw.partition(b"\r\n\r\n")
    assert blank, "the header block ends with an empty line"
    names = []
    for line in head.split(b"\r\n"):
        assert line.strip(), "no blank or white-space-only line inside the headers"
        assert all(32 <= b < 127 or b == 9 for b in line), f"only printable ASCII: {line!r}"
        assert len(line) <= (76 if b"=?" in line else 998)  # RFC 2047 2, RFC 5322 2.1.1
        if line[:1] not in (b" ", b"\t"):
            names.append(line.partition(b":")[0].decode("ascii"))
    assert b"\r" not in raw.replace(b"\r\n", b"") and b"\n" not in raw.replace(b"\r\n", b"")
    return names


def display_name(message: EmailMessage, header: str) -> str:
    """The display name of a From or To as RFC 2047 reads it. Python's parser keeps the space
    between two encoded words of a display name, which the RFC (6.2) drops and mail programs
    drop; email.header's decoder follows the RFC, so an encoded name is read with it."""
    raw = dict(message.raw_items())[header]
    phrase = raw.replace("\n", "").rpartition("<")[0].strip()
    if phrase.startswith("=?"):
        return str(make_header(decode_header(phrase)))
    name: str = message[header].addresses[0].display_name
    return name


def filename(part: EmailMessage) -> str:
    """The file name as RFC 2231 reads it (get_filename() also strips quotes and spaces)."""
    name: str = part["Content-Disposition"].params.get("filename", "")
    return name


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture(scope="module")
def smtp() -> Iterator[Server]:
    handler = Raw()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Server(handler, port)
    finally:
        controller.stop()


INJECTION = "=?utf-8?q?Bob=0D=0AReply-To:_x@evil.test=0D=0A=0D=0Ainjected body?="
B_INJECTION = (
    "=?utf-8?b?" + base64.b64encode(b"Bob\r\nBcc: x@evil.test\r\n\r\nbody").decode() + "?="
)


def test_the_issues_encoded_word_stays_in_the_subject_as_its_literal_text(smtp: Server) -> None:
    got = smtp.send(subject=INJECTION)

    assert got.names == PLAIN_HEADERS
    assert got.message["Subject"] == INJECTION  # what the template rendered, to the letter
    assert got.message.get_content() == BODY
    assert b"Reply-To" not in got.raw and b"injected body" not in got.raw


def test_a_tick_renders_a_contact_field_into_the_subject_and_it_stays_there(
    smtp: Server, launch: Launch, write: Write
) -> None:
    write(
        "seqctl.yaml", f"channels:\n  email: {{kind: smtp, host: 127.0.0.1, port: {smtp.port}}}\n"
    )
    playbook = auto_playbook(
        "welcome",
        """
  - id: hello
    type: email
    subject: "Welcome, {{ contact.first_name }}"
    body: "Hi {{ contact.first_name }}"
""",
        settings="sender: {name: Ana Lima, email: ana@acme.test}\n",
    )
    smtp.handler.messages.clear()
    run = launch({"welcome": playbook}, f'key,email,first_name\nc1,c1@example.com,"{INJECTION}"\n')
    run("--now=2026-11-23T08:00:00Z", "enroll", "welcome", "--contact", "c1")
    report = run("--now=2026-11-23T08:00:00Z", "tick", "--json").json

    assert (report["sent"], report["failed"]) == (1, 0)
    [raw] = smtp.handler.messages
    assert sorted(header_names(raw)) == PLAIN_HEADERS
    message = parse(raw)
    assert message["Subject"] == f"Welcome, {INJECTION}"
    assert message.get_content() == f"Hi {INJECTION}\n"
    assert message["From"] == "Ana Lima <ana@acme.test>"


@pytest.mark.parametrize("attack", [INJECTION, B_INJECTION, "Bob\r\nBcc: x@evil.test"])
def test_no_field_that_reaches_a_header_can_add_one(smtp: Server, attack: str) -> None:
    sender = {"name": attack, "email": "ana@acme.test"}
    quoted = attack.replace("\\", "\\\\").replace('"', '\\"').replace("\r\n", " ")
    got = smtp.send(
        subject=attack,
        to=f'"{quoted}" <contact@example.com>',
        contact=attack,
        idempotency_key=f"1:1:{attack}",
        extra={"from": sender, "attachments": [{"name": attack + ".pdf", "data": b"%PDF"}]},
        spec={"unsubscribe_url": "https://acme.test/unsub?c={contact}"},
    )

    assert got.names == sorted([*MIXED_HEADERS, "List-Unsubscribe", "List-Unsubscribe-Post"])
    message = got.message
    assert message["Subject"] == one_line(attack)
    assert display_name(message, "From") == one_line(attack)
    assert message["From"].addresses[0].addr_spec == "ana@acme.test"
    assert display_name(message, "To") == one_line(attack)
    assert message["To"].addresses[0].addr_spec == "contact@example.com"
    assert message["X-Seqctl-Idempotency-Key"] == one_line(f"1:1:{attack}")
    assert message["List-Unsubscribe"].startswith("<https://acme.test/unsub?c=")
    [body, attached] = message.iter_parts()
    assert body.get_content() == BODY
    assert list(attached.keys()) == [
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
    ]
    assert filename(attached) == one_line(attack + ".pdf")
    assert attached.get_content() == b"%PDF"


@pytest.mark.parametrize(
    "subject",
    [
        "Olá, Zoë — 日本語のテキスト 🎉",
        "x" * 2000,  # one word longer than a line may be
        " ".join(["word"] * 600),  # folded over many lines
        "a\x00b\rc\nd\x0be\x0cf\x1cg\x1dh\x1ei\x85j\u2028k\u2029l\tm",
        "=?iso-8859-1?q?=E9?= =?utf-8?b?w6k=?= ?= =? =?",
        "",
    ],
)
def test_hard_subjects_arrive_as_one_header_a_reader_decodes_to_one_line(
    smtp: Server, subject: str
) -> None:
    got = smtp.send(subject=subject)

    assert got.names == PLAIN_HEADERS
    assert got.message["Subject"] == one_line(subject)
    assert got.message.get_content() == BODY


def test_a_header_that_cannot_be_one_line_fails_the_message_for_good(smtp: Server) -> None:
    spec = {"kind": "smtp", "host": "127.0.0.1", "port": smtp.port, "from": FROM}
    spec["unsubscribe_url"] = "https://acme.test/unsub?c={contact}"
    channel = SmtpChannel(spec, name="email", environ={})
    smtp.handler.messages.clear()
    # A URL has no space to fold at: a 2,000-character key makes a line over 998.
    long, fine = send_all(channel, [outgoing(1, contact="k" * 2000), outgoing(2)])

    assert not long.ok and long.temporary is False
    assert long.error == (
        "cannot write the List-Unsubscribe header: a line would be over 998 characters"
    )
    assert fine.ok and len(smtp.handler.messages) == 1


def test_line_breaks_of_every_kind_become_one_space() -> None:
    assert one_line("a\r\n\r\nb\x00c\x85d\u2028\u2029e  \t f\x7fg") == "a b c d e f g"
    assert one_line(" \r\n padded \n ") == "padded"


# Pieces of attacks, glued together by hypothesis with any other text.
ATTACKS = [
    "\r\n", "\r", "\n", "\x00", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "\t",
    "Bcc: x@evil.test", "\r\n\r\nbody", ": ", "<", ">", '"', "\\", "=?", "?=", "=?utf-8?q?",
    "=?utf-8?b?", "=0D=0A", "_", "=", "?", "é", "日本", "🎉", " ", "  ", "x" * 80,
]  # fmt: skip
hostile = st.lists(st.sampled_from(ATTACKS) | st.text(max_size=8), max_size=12).map("".join)


def _encoded_word(text: str, kind: str) -> str:
    data = text.encode()
    if kind == "b":
        return f"=?utf-8?b?{base64.b64encode(data).decode()}?="
    return f"=?utf-8?q?{quopri.encodestring(data, header=True).decode()}?="


encoded = st.builds(_encoded_word, hostile, st.sampled_from(["q", "b"]))
texts = hostile | encoded | st.lists(hostile | encoded, max_size=3).map(" ".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(subject=texts, name=texts, name_of_file=texts)
def test_hostile_subjects_names_and_filenames_never_change_the_headers(
    smtp: Server, subject: str, name: str, name_of_file: str
) -> None:
    sender = {"name": name, "email": "ana@acme.test"}
    attachment = {"name": name_of_file, "data": b"data"}
    got = smtp.send(subject=subject, extra={"from": sender, "attachments": [attachment]})

    assert got.names == MIXED_HEADERS
    message = got.message
    assert message["Subject"] == one_line(subject)
    assert display_name(message, "From") == one_line(name)
    assert message["From"].addresses[0].addr_spec == "ana@acme.test"
    [body, attached] = message.iter_parts()
    assert body.get_content() == BODY
    assert list(attached.keys()) == [
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
    ]
    assert filename(attached) == one_line(name_of_file)
    assert attached.get_content() == b"data"
