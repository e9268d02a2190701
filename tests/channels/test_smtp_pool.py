"""The SMTP transport: connections kept for the tick, PIPELINING, timeouts and the breaker,
against real servers on 127.0.0.1 (aiosmtpd, and a port that never answers)."""

from __future__ import annotations

import ssl
import time
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword

from seqctl.channels import send_all
from seqctl.channels.smtp import SmtpChannel
from seqctl.errors import ConfigError
from tests.channels.conftest import free_port, outgoing
from tests.channels.latency import Provider, silent_server, smtp_server

FROM = "Ana Lima <ana@acme.test>"


def channel(port: int, **spec: Any) -> SmtpChannel:
    settings = {"kind": "smtp", "host": "127.0.0.1", "port": port, "from": FROM, **spec}
    return SmtpChannel(settings, name="email", environ={"U": "ana", "P": "s3cret"})


def test_mail_rcpt_and_data_go_together_when_the_server_offers_pipelining() -> None:
    provider = Provider()
    with smtp_server(provider) as port:
        smtp = channel(port, connections=1)
        deliveries = send_all(smtp, [outgoing(n) for n in range(1, 11)])
        smtp.close()
    assert all(d.ok for d in deliveries)
    assert len(provider.received) == 10
    assert provider.pipelined == 10  # RCPT and DATA had arrived with each MAIL


@pytest.mark.parametrize("offered, configured", [(False, True), (True, False)])
def test_one_command_at_a_time_without_pipelining(offered: bool, configured: bool) -> None:
    provider = Provider(pipelining=offered)
    with smtp_server(provider) as port:
        smtp = channel(port, connections=1, pipelining=configured)
        deliveries = send_all(smtp, [outgoing(n) for n in range(1, 6)])
        smtp.close()
    assert all(d.ok for d in deliveries)
    assert (len(provider.received), provider.pipelined) == (5, 0)


def test_a_refused_recipient_in_a_pipelined_transaction_fails_alone() -> None:
    provider = Provider()
    with smtp_server(provider) as port:
        smtp = channel(port, connections=1)
        gone, fine = send_all(smtp, [outgoing(1, to="gone@example.com"), outgoing(2)])
        smtp.close()
    assert gone.temporary is False
    assert gone.error == "recipient gone@example.com refused: 550 5.1.1 no such user"
    assert fine.ok and len(provider.received) == 1


def test_messages_are_spread_over_the_connections_at_real_latency() -> None:
    provider = Provider(latency=0.02)
    with smtp_server(provider) as port:
        smtp = channel(port, connections=8)
        started = time.monotonic()
        deliveries = send_all(smtp, [outgoing(n) for n in range(1, 41)])
        seconds = time.monotonic() - started
        smtp.close()
    assert all(d.ok for d in deliveries) and len(provider.received) == 40
    assert provider.connections == 8
    # One connection needs 40 x 3 replies x 20 ms = 2.4 s; eight share that.
    assert seconds < 1.2


def test_a_server_that_never_answers_trips_the_breaker_after_one_timeout() -> None:
    with silent_server() as port:
        smtp = channel(port, connections=4, connect_timeout=0.3)
        started = time.monotonic()
        first = send_all(smtp, [outgoing(n) for n in range(1, 21)])
        second = send_all(smtp, [outgoing(n) for n in range(21, 41)])  # the next batch
        seconds = time.monotonic() - started
        smtp.close()
    assert seconds < 1.5  # one connect timeout for the tick, not one per batch or message
    assert all(d.temporary and d.held for d in first + second)
    assert "cannot connect to 127.0.0.1" in str(first[0].error)
    assert "timed out" in str(first[0].error)


def test_a_server_that_is_down_holds_every_message() -> None:
    smtp = channel(free_port(), connections=4)
    deliveries = send_all(smtp, [outgoing(n) for n in range(1, 9)])
    assert [d.message_id for d in deliveries] == list(range(1, 9))
    assert all(not d.ok and d.temporary and d.held for d in deliveries)
    assert "cannot connect" in str(deliveries[0].error)


def test_a_reply_that_never_comes_fails_the_message_for_now() -> None:
    provider = Provider(mode="hang")
    with smtp_server(provider) as port:
        smtp = channel(port, connections=1, timeout=0.3)
        [delivery] = send_all(smtp, [outgoing(1)])
        smtp.close()
    assert delivery.temporary and delivery.unknown == 0  # MAIL got no reply: nothing sent
    assert delivery.error == f"127.0.0.1:{port}: no reply within 0.3 s"


def test_no_reply_after_the_whole_message_is_an_unknown_outcome() -> None:
    provider = Provider(mode="hang-data")
    with smtp_server(provider) as port:
        smtp = channel(port, connections=1, timeout=0.3)
        [delivery] = send_all(smtp, [outgoing(1)])
        smtp.close()
    assert delivery.temporary and delivery.unknown == 1
    assert delivery.error == (
        f"127.0.0.1:{port}: no reply within 0.3 s; outcome unknown, sent again later"
    )
    assert len(provider.received) == 1  # the server had it


def test_a_password_is_never_sent_in_the_clear_to_another_machine() -> None:
    spec = {"kind": "smtp", "host": "smtp.acme.test", "username_env": "U", "password_env": "P"}
    environ = {"U": "ana", "P": "s3cret"}
    with pytest.raises(ConfigError, match="unencrypted to smtp.acme.test"):
        SmtpChannel(spec, name="email", environ=environ)
    SmtpChannel({**spec, "allow_plaintext_auth": True}, name="email", environ=environ)
    SmtpChannel({**spec, "security": "starttls"}, name="email", environ=environ)
    SmtpChannel({**spec, "host": "127.0.0.1"}, name="email", environ=environ)
    SmtpChannel({**spec, "host": "localhost"}, name="email", environ=environ)


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"ana", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def _server_tls(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(context)
    return context


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_as_configured_with_a_login(authority: trustme.CA, security: str) -> None:
    provider = Provider()
    option = "tls_context" if security == "starttls" else "ssl_context"
    login = {"authenticator": _login, "auth_require_tls": False}
    with smtp_server(provider, **{option: _server_tls(authority)}, **login) as port:
        spec = {"security": security, "username_env": "U", "password_env": "P"}
        smtp = SmtpChannel(
            {"kind": "smtp", "host": "localhost", "port": port, "from": FROM, **spec},
            name="email",
            environ={"U": "ana", "P": "s3cret"},
        )
        authority.configure_trust(smtp.tls)
        deliveries = send_all(smtp, [outgoing(1), outgoing(2)])
        smtp.close()
    assert all(d.ok for d in deliveries), deliveries
    assert len(provider.received) == 2


def test_a_certificate_that_is_not_trusted_holds_the_messages(authority: trustme.CA) -> None:
    provider = Provider()
    with smtp_server(provider, ssl_context=_server_tls(authority)) as port:
        smtp = channel(port, security="tls")  # 127.0.0.1, and the system's CAs only
        [delivery] = send_all(smtp, [outgoing(1)])
    assert delivery.held and "TLS" in str(delivery.error)
    assert provider.received == {}
