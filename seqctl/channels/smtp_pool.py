"""SMTP transport: several connections per channel, each kept for the whole tick, PIPELINING
when the server offers it, a timeout on the connection and on every reply.

Measured before choosing (bench/delivery.py, a server that waits before each reply): smtplib
on a few threads, with MAIL, RCPT and DATA sent together over its socket, keeps up with the
same number of aiosmtplib connections, and aiosmtplib does not pipeline (it sends each command
and waits for its reply). The standard library also keeps a tick from loading an event loop,
and the threads leave the database to the tick's own thread (see lanes).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seqctl.channels.base import Delivery, Outgoing
from seqctl.channels.breaker import Breaker

if TYPE_CHECKING:
    from seqctl.channels.smtp import SmtpChannel

_QUEUE_ID = re.compile(r"(?:queued as|\bid=)\s*([A-Za-z0-9][A-Za-z0-9._@-]{0,99})", re.IGNORECASE)
_LEADING_DOT = re.compile(rb"(?m)^\.")


class Unavailable(Exception):
    """The server cannot be reached or refuses the session."""


class _Lost(Exception):
    """The connection broke during a transaction; `sent` once the whole message was out (its
    outcome is then unknown), `timed_out` when a reply never came."""

    def __init__(self, reason: str, *, sent: bool, timed_out: bool) -> None:
        super().__init__(reason)
        self.sent = sent
        self.timed_out = timed_out


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str
    data: bytes
    message_id: str


class Server:
    """What the connections of one SMTP channel share during a tick: the breaker, and how
    many connections are up or on their way (a connection refused while others work is the
    server's limit on connections, not an outage)."""

    def __init__(self) -> None:
        self.breaker = Breaker()
        self.alive = 0
        self._lock = threading.Lock()

    def joining(self) -> None:
        with self._lock:
            self.alive += 1

    def leaving(self) -> int:
        """One connection fewer; how many others are up or on their way."""
        with self._lock:
            self.alive -= 1
            return self.alive


class SmtpLane:
    """One SMTP connection: opened once (EHLO, STARTTLS, AUTH), then one message after another."""

    def __init__(self, channel: SmtpChannel, server: Server) -> None:
        self.channel = channel
        self.server = server
        self.smtp: smtplib.SMTP | None = None
        self.pipelining = False

    def open(self) -> str | None:
        if self.smtp is not None and self.smtp.sock is not None:
            return None
        if self.server.breaker.reason is not None:
            return None  # nothing to open: its messages are held
        self.server.joining()
        try:
            self._connect()
        except Unavailable as exc:
            if self.server.leaving() > 0:
                return str(exc)  # others carry the messages (a limit on connections)
            self.server.breaker.trip(str(exc))
        return None

    def held(self, message: Outgoing) -> Delivery | None:
        return self.server.breaker.hold(message.id)

    def send(self, m: Outgoing) -> Delivery:
        try:
            envelope = self.channel.envelope(m)
        except ValueError as exc:  # the message can never be sent as it is
            return Delivery(m.id, error=str(exc), temporary=False)
        unknown = 0
        for _ in range(2):  # a dropped connection is opened again once
            if self.smtp is None or self.smtp.sock is None:
                self.server.joining()
                try:
                    self._connect()
                except Unavailable as exc:
                    self.server.leaving()
                    self.server.breaker.failed(str(exc))
                    return Delivery(m.id, error=str(exc), temporary=True, unknown=unknown)
            assert self.smtp is not None
            try:
                delivery = self._transmit(m, envelope)
            except _Lost as exc:
                self._drop()
                unknown += exc.sent
                if exc.timed_out:  # a slow server: not sent again at once
                    self.server.breaker.failed(str(exc))
                    return Delivery(m.id, error=str(exc), temporary=True, unknown=unknown)
                reason = str(exc)
                continue
            self.server.breaker.worked()
            delivery.unknown = unknown
            return delivery
        self.server.breaker.failed(reason)
        return Delivery(m.id, error=reason, temporary=True, unknown=unknown)

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        self.server.leaving()
        try:
            if smtp.sock is not None:
                smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()

    def _drop(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            self.server.leaving()
            smtp.close()

    def _connect(self) -> None:
        """Connected, TLS as configured, logged in (the caller counted it as joining)."""
        channel = self.channel
        where = f"{channel.host}:{channel.port}"
        smtp: smtplib.SMTP | None = None
        try:
            local = channel.local_hostname()
            # Connected and greeted under the connect timeout; every reply after, the other.
            if channel.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    channel.host,
                    channel.port,
                    local_hostname=local,
                    timeout=channel.connect_timeout,
                    context=channel.tls,
                )
            else:
                smtp = smtplib.SMTP(
                    channel.host,
                    channel.port,
                    local_hostname=local,
                    timeout=channel.connect_timeout,
                )
            assert smtp.sock is not None
            smtp.timeout = channel.timeout
            smtp.sock.settimeout(channel.timeout)
            smtp.ehlo()
            if channel.security == "starttls":
                smtp.starttls(context=channel.tls)
                smtp.ehlo()
            if channel.credentials is not None:
                smtp.login(*channel.credentials)
        except smtplib.SMTPAuthenticationError as exc:
            _close(smtp)
            raise Unavailable(f"{where} refused the login: {_reply(exc)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            _close(smtp)
            raise Unavailable(f"{where}: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            _close(smtp)
            raise Unavailable(f"{where} refused the session: {_reply(exc)}") from None
        except (OSError, smtplib.SMTPException) as exc:
            _close(smtp)
            raise Unavailable(f"cannot connect to {where}: {describe(exc)}") from None
        self.smtp = smtp
        self.pipelining = channel.pipelining and smtp.has_extn("pipelining")

    def _transmit(self, m: Outgoing, envelope: Envelope) -> Delivery:
        """One SMTP transaction; the server's reply decides permanent (5xx) or temporary."""
        smtp = self.smtp
        assert smtp is not None
        sent = False
        try:
            mail = f"MAIL FROM:{smtplib.quoteaddr(envelope.sender)}\r\n"
            rcpt = f"RCPT TO:{smtplib.quoteaddr(envelope.recipient)}\r\n"
            if self.pipelining:  # RFC 2920: one round trip for the three, replies read after
                smtp.send(mail + rcpt + "DATA\r\n")
                replies = [smtp.getreply(), smtp.getreply(), smtp.getreply()]
            else:
                replies = []
                for command in (mail, rcpt, "DATA\r\n"):
                    smtp.send(command)
                    replies.append(smtp.getreply())
                    if replies[-1][0] not in (250, 251, 354):
                        break
            refused = _first_refusal(replies, envelope)
            if refused is not None:
                if replies[-1][0] == 354:  # DATA accepted after a refusal: end it, empty
                    smtp.send(".\r\n")
                    smtp.getreply()
                return self._refused(m, *refused)
            data = _LEADING_DOT.sub(b"..", envelope.data)
            if not data.endswith(b"\r\n"):
                data += b"\r\n"
            smtp.send(data + b".\r\n")
            sent = True
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
            text = describe(exc).removeprefix("Connection unexpectedly closed: ")
            where = f"{self.channel.host}:{self.channel.port}"
            timed_out = text == "timed out"
            what = f"no reply within {self.channel.timeout:g} s" if timed_out else "connection lost"
            if not timed_out:
                what += f": {text}"
            if sent:
                what += "; outcome unknown, sent again later"
            raise _Lost(f"{where}: {what}", sent=sent, timed_out=timed_out) from None
        if code != 250:
            return self._refused(m, code, reply, "message")
        found = _QUEUE_ID.search(reply.decode("utf-8", "replace"))
        return Delivery(m.id, provider_id=found.group(1) if found else envelope.message_id)

    def _refused(self, m: Outgoing, code: int, reply: bytes, what: str) -> Delivery:
        smtp = self.smtp
        assert smtp is not None
        if code == 421:  # the server is closing the session
            self._drop()
            self.server.breaker.failed(f"{self.channel.host}:{self.channel.port} said 421")
        else:
            try:
                smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()
        error = f"{what} refused: {code} {_text(reply)}".strip()
        return Delivery(m.id, error=error, temporary=not 500 <= code < 600)


def _first_refusal(
    replies: list[tuple[int, bytes]], envelope: Envelope
) -> tuple[int, bytes, str] | None:
    whats = [f"sender {envelope.sender}", f"recipient {envelope.recipient}", "message"]
    for (code, reply), what, ok in zip(replies, whats, ((250,), (250, 251), (354,)), strict=False):
        if code not in ok:
            return code, reply, what
    return None


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        smtp.close()


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}".strip()


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    return " ".join(str(exc).split()) or type(exc).__name__
