"""The SMTP channel against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from seqctl.channels import ChannelSet, send_all
from seqctl.channels.smtp import SmtpChannel
from seqctl.errors import ConfigError
from tests.channels.conftest import free_port, outgoing

# The test server takes AUTH without TLS (127.0.0.1 only); aiosmtpd warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Mailbox:
    """An SMTP handler that keeps what it accepts and counts the connections it saw."""

    received: list[Received] = field(default_factory=list)
    sessions: set[int] = field(default_factory=set)
    hang_up_after: int | None = None  # close the connection after accepting this many

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 <gone@example.com>: no such user"
        if address.startswith("full@"):
            return "452 4.2.2 mailbox full, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.add(id(session))
        message = message_from_bytes(
            envelope.content.replace(b"\r\n", b"\n"), policy=policy.default
        )
        assert isinstance(message, EmailMessage)
        if "spam" in str(message["Subject"]):
            return "554 5.7.1 message rejected as spam"
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        if self.hang_up_after is not None and len(self.received) == self.hang_up_after:
            server.transport.close()  # the reply never arrives: the client must reconnect
        return "250 2.0.0 Ok: queued as Q" + str(len(self.received))


@dataclass
class Server:
    mailbox: Mailbox
    port: int

    def channel(self, environ: dict[str, str] | None = None, **spec: Any) -> SmtpChannel:
        settings = {"kind": "smtp", "host": "127.0.0.1", "port": self.port, "timeout": 5, **spec}
        return SmtpChannel(settings, name="email", environ=environ or {})


def _serve(mailbox: Mailbox, **options: Any) -> Iterator[Server]:
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield Server(mailbox, port)
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[Server]:
    yield from _serve(Mailbox())


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"ana", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535


@pytest.fixture
def smtp_auth() -> Iterator[Server]:
    yield from _serve(Mailbox(), authenticator=_login, auth_required=True, auth_require_tls=False)


FROM = "Ana Lima <ana@acme.test>"


def test_headers_of_a_plain_message(smtp: Server) -> None:
    channel = smtp.channel(**{"from": FROM})
    [delivery] = send_all(channel, [outgoing(7)])

    assert delivery.ok and delivery.provider_id == "Q1"
    [got] = smtp.mailbox.received
    assert got.sender == "ana@acme.test"
    assert got.recipients == ["contact7@example.com"]
    message = got.message
    assert message["From"] == "Ana Lima <ana@acme.test>"
    assert message["To"] == "contact7@example.com"
    assert message["Subject"] == "Hello there"
    assert abs(parsedate_to_datetime(message["Date"]) - datetime.now(UTC)) < timedelta(minutes=5)
    assert message["X-Seqctl-Idempotency-Key"] == "7:1:hello"
    assert message["Message-ID"].startswith("<7.1.hello.")
    assert message["Message-ID"].endswith("@acme.test>")
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Hi,\n\nJust checking in.\n"
    assert "List-Unsubscribe" not in message


def test_message_id_is_the_same_on_every_attempt_and_differs_between_messages(
    smtp: Server,
) -> None:
    channel = smtp.channel(**{"from": FROM, "connections": 1})
    send_all(channel, [outgoing(1), outgoing(2)])
    send_all(channel, [outgoing(1)])  # the same message again (a retry after a crash)

    ids = [r.message["Message-ID"] for r in smtp.mailbox.received]
    assert ids[0] == ids[2]
    assert ids[0] != ids[1]


def test_sequence_sender_wins_over_the_configured_from(smtp: Server) -> None:
    channel = smtp.channel(**{"from": FROM})
    extra = {"from": {"name": "Bruno Reis", "email": "bruno@acme.test"}}
    [delivery] = send_all(channel, [outgoing(extra=extra)])

    assert delivery.ok
    [got] = smtp.mailbox.received
    assert got.sender == "bruno@acme.test"
    assert got.message["From"] == "Bruno Reis <bruno@acme.test>"


def test_html_makes_a_multipart_alternative(smtp: Server) -> None:
    channel = smtp.channel(**{"from": FROM})
    html = "<p>Hi <b>Zoë</b></p>"
    send_all(channel, [outgoing(body="Hi Zoë", extra={"html": html})])

    message = smtp.mailbox.received[0].message
    assert message.get_content_type() == "multipart/alternative"
    parts = [(p.get_content_type(), p.get_content()) for p in message.iter_parts()]
    assert parts == [("text/plain", "Hi Zoë\n"), ("text/html", html + "\n")]


def test_list_unsubscribe_with_the_contact_key_quoted(smtp: Server) -> None:
    channel = smtp.channel(
        **{"from": FROM, "unsubscribe_url": "https://acme.test/unsub?c={contact}"}
    )
    send_all(channel, [outgoing(contact="ann smith/1")])

    message = smtp.mailbox.received[0].message
    assert message["List-Unsubscribe"] == "<https://acme.test/unsub?c=ann%20smith%2F1>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_mailto_unsubscribe_has_no_one_click_post(smtp: Server) -> None:
    channel = smtp.channel(**{"from": FROM, "unsubscribe_url": "mailto:unsub@acme.test?s={key}"})
    send_all(channel, [outgoing(contact="ann")])

    message = smtp.mailbox.received[0].message
    assert message["List-Unsubscribe"] == "<mailto:unsub@acme.test?s=ann>"
    assert "List-Unsubscribe-Post" not in message


def test_batches_share_the_connections_of_the_tick(smtp: Server) -> None:
    channel = smtp.channel(**{"from": FROM})
    first = send_all(channel, [outgoing(n) for n in range(1, 301)])
    second = send_all(channel, [outgoing(n) for n in range(301, 501)])
    channel.close()

    assert [d.message_id for d in first + second] == list(range(1, 501))
    assert all(d.ok for d in first + second)
    assert len(smtp.mailbox.received) == 500
    assert len(smtp.mailbox.sessions) == 4  # the default `connections`, kept for both


def test_one_connection_when_configured(smtp: Server) -> None:
    channel = smtp.channel(**{"from": FROM, "connections": 1})
    deliveries = send_all(channel, [outgoing(n) for n in range(1, 51)])
    channel.close()

    assert all(d.ok for d in deliveries)
    assert len(smtp.mailbox.sessions) == 1


def test_a_line_break_in_the_subject_or_name_cannot_add_a_header(smtp: Server) -> None:
    channel = smtp.channel(**{"from": FROM})
    extra = {"from": {"name": "Ana\r\nBcc: y@evil.test", "email": "ana@acme.test"}}
    [delivery] = send_all(channel, [outgoing(subject="Hi\r\nBcc: x@evil.test", extra=extra)])

    assert delivery.ok
    [got] = smtp.mailbox.received
    assert got.recipients == ["contact1@example.com"]
    assert "Bcc" not in got.message
    assert got.message["Subject"] == "Hi Bcc: x@evil.test"
    assert got.message["From"].addresses[0].addr_spec == "ana@acme.test"


@pytest.mark.parametrize(
    "address",
    [
        "contact@example.com\r\nBcc: x@evil.test",
        "not an address",
        "a@example.com, b@example.com",
        "a@@example.com",
        "a@exa mple.com",
        "",
    ],
)
def test_an_invalid_address_fails_for_good_and_sends_nothing(smtp: Server, address: str) -> None:
    channel = smtp.channel(**{"from": FROM})
    [bad, good] = send_all(channel, [outgoing(1, to=address), outgoing(2)])

    assert not bad.ok and bad.temporary is False
    assert good.ok
    assert [r.recipients for r in smtp.mailbox.received] == [["contact2@example.com"]]


def test_refused_recipients_permanent_for_5xx_temporary_for_4xx(smtp: Server) -> None:
    channel = smtp.channel(**{"from": FROM, "connections": 1})
    gone, full, fine = send_all(
        channel,
        [outgoing(1, to="gone@example.com"), outgoing(2, to="full@example.com"), outgoing(3)],
    )

    assert gone.temporary is False and gone.error is not None and "550" in gone.error
    assert full.temporary is True and full.error is not None and "452" in full.error
    assert fine.ok
    assert len(smtp.mailbox.sessions) == 1


def test_a_message_refused_after_data_fails_for_good_and_the_batch_goes_on(smtp: Server) -> None:
    channel = smtp.channel(**{"from": FROM, "connections": 1})
    spam, fine = send_all(channel, [outgoing(1, subject="cheap spam"), outgoing(2)])

    assert spam.temporary is False
    assert spam.error == "message refused: 554 5.7.1 message rejected as spam"
    assert fine.ok
    assert len(smtp.mailbox.sessions) == 1


def test_starttls_on_a_server_without_it_is_a_temporary_failure(smtp: Server) -> None:
    channel = smtp.channel(**{"from": FROM, "security": "starttls"})
    [delivery] = send_all(channel, [outgoing()])

    assert delivery.temporary and "STARTTLS" in str(delivery.error)
    assert smtp.mailbox.received == []


def test_a_dropped_connection_is_reopened_once_and_the_message_repeated(smtp: Server) -> None:
    smtp.mailbox.hang_up_after = 3
    channel = smtp.channel(**{"from": FROM, "connections": 1})
    deliveries = send_all(channel, [outgoing(n) for n in range(1, 6)])

    assert all(d.ok for d in deliveries)
    keys = [r.message["X-Seqctl-Idempotency-Key"] for r in smtp.mailbox.received]
    # The third was accepted but its reply was lost: sent again, with the same Message-ID.
    assert keys == ["1:1:hello", "2:1:hello", "3:1:hello", "3:1:hello", "4:1:hello", "5:1:hello"]
    ids = [r.message["Message-ID"] for r in smtp.mailbox.received]
    assert ids[2] == ids[3]
    assert len(smtp.mailbox.sessions) == 2


def test_a_server_that_is_down_gives_temporary_failures() -> None:
    spec = {"kind": "smtp", "host": "127.0.0.1", "port": free_port(), "from": FROM, "timeout": 2}
    channel = SmtpChannel(spec, name="email", environ={})
    deliveries = send_all(channel, [outgoing(1), outgoing(2)])

    assert [d.message_id for d in deliveries] == [1, 2]
    assert all(not d.ok and d.temporary for d in deliveries)
    assert deliveries[0].error is not None and "cannot connect" in deliveries[0].error


def test_login_with_credentials_from_the_environment(smtp_auth: Server) -> None:
    environ = {"SMTP_USER": "ana", "SMTP_PASSWORD": "s3cret"}
    channel = smtp_auth.channel(
        **{"from": FROM, "username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD"},
        environ=environ,
    )
    [delivery] = send_all(channel, [outgoing()])

    assert delivery.ok
    assert len(smtp_auth.mailbox.received) == 1


def test_a_wrong_password_is_a_temporary_failure_that_names_the_login(smtp_auth: Server) -> None:
    environ = {"SMTP_USER": "ana", "SMTP_PASSWORD": "wrong"}
    channel = smtp_auth.channel(
        **{"from": FROM, "username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD"},
        environ=environ,
    )
    [delivery] = send_all(channel, [outgoing()])

    assert delivery.temporary and delivery.error is not None and "login" in delivery.error
    assert smtp_auth.mailbox.received == []


def test_without_login_an_auth_required_server_refuses(smtp_auth: Server) -> None:
    [delivery] = send_all(smtp_auth.channel(**{"from": FROM}), [outgoing()])

    assert not delivery.ok
    assert smtp_auth.mailbox.received == []


def test_a_missing_environment_variable_is_a_config_error() -> None:
    spec = {"kind": "smtp", "host": "127.0.0.1", "username_env": "SMTP_USER"}
    spec["password_env"] = "SMTP_PASSWORD"
    with pytest.raises(ConfigError, match="SMTP_PASSWORD"):
        SmtpChannel(spec, name="email", environ={"SMTP_USER": "ana"})


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "smtp"},
        {"kind": "smtp", "host": "h", "from": "not an address"},
        {"kind": "smtp", "host": "h", "username_env": "SMTP_USER"},
        {"kind": "smtp", "host": "h", "unsubscribe_url": "https://x.test/a b"},
    ],
)
def test_bad_settings_are_config_errors(spec: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="channels.email"):
        SmtpChannel(spec, name="email", environ={"SMTP_USER": "ana"})


def test_no_from_anywhere_fails_the_message(smtp: Server) -> None:
    [delivery] = send_all(smtp.channel(), [outgoing()])

    assert not delivery.ok and not delivery.temporary
    assert delivery.error is not None and "sender" in delivery.error


def test_channel_set_builds_an_smtp_channel(tmp_path: Path) -> None:
    config = {"email": {"kind": "smtp", "host": "127.0.0.1", "port": 2525, "from": FROM}}
    channels = ChannelSet(config, tmp_path / "outbox.jsonl")

    assert isinstance(channels.for_type("email"), SmtpChannel)
    assert send_all(channels.for_type("email"), []) == []
