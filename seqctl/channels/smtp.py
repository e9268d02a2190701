"""The SMTP channel: one connection a batch, proper MIME, and no way to inject a header."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr
from typing import Any
from urllib.parse import quote

from seqctl.channels.base import Delivery, Outgoing
from seqctl.errors import ConfigError

DEFAULT_TIMEOUT = 30.0
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}

# Bodies that are not plain ASCII go out quoted-printable or base64, so no 8BITMIME is needed.
_POLICY = policy.SMTP.clone(cte_type="7bit")
_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_QUEUE_ID = re.compile(r"(?:queued as|\bid=)\s*([A-Za-z0-9][A-Za-z0-9._@-]{0,99})", re.IGNORECASE)


class _Invalid(Exception):
    """This message can never be sent as it is (a bad address): a permanent failure."""


class _Unavailable(Exception):
    """The server cannot be reached or refuses the session: every message waits for later."""


@dataclass(frozen=True)
class _Envelope:
    sender: str
    recipient: str
    data: bytes
    message_id: str


class SmtpChannel:
    """Sends each batch over one SMTP connection (reconnecting once if the server drops it)."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        name: str,
        environ: Mapping[str, str] = os.environ,
        signer: Callable[[int], str] | None = None,
    ) -> None:
        self.name = name
        where = f"channels.{name}"
        if not spec.get("host"):
            raise ConfigError(f"{where}: an smtp channel needs a host")
        self.host = str(spec["host"])
        self.security = str(spec.get("security", "none"))
        if self.security not in DEFAULT_PORTS:
            raise ConfigError(f"{where}: security must be none, starttls or tls")
        self.port = int(spec.get("port", DEFAULT_PORTS[self.security]))
        self.timeout = float(spec.get("timeout", DEFAULT_TIMEOUT))
        self.credentials = _credentials(spec, environ, where)
        self.sender: tuple[str, str] | None = None
        if spec.get("from"):
            try:
                self.sender = _mailbox(str(spec["from"]), "from address")
            except _Invalid as exc:
                raise ConfigError(f"{where}: {exc}") from None
        self.unsubscribe = _unsubscribe_template(spec.get("unsubscribe_url"), where)
        if self.unsubscribe is not None and "{token}" in self.unsubscribe and signer is None:
            raise ConfigError(
                f"{where}: unsubscribe_url has {{token}}, which is signed with the key events"
                " serve checks: set SEQCTL_EVENTS_SECRET (or tracking.secret_env)"
            )
        self.signer = signer
        self._local_hostname: str | None = None

    def send(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        session = _Session(self)
        try:
            return [self._send_one(session, m) for m in messages]
        finally:
            session.close()

    def delivered(self, keys: set[str]) -> set[str]:
        """SMTP cannot be asked: a message in flight is sent again with the same Message-ID."""
        return set()

    def close(self) -> None:
        return None  # connections live for one batch

    def _send_one(self, session: _Session, m: Outgoing) -> Delivery:
        try:
            message, sender, recipient = self._compose(m)
        except _Invalid as exc:
            return Delivery(m.id, error=str(exc), temporary=False)
        envelope = _Envelope(sender, recipient, message.as_bytes(), str(message["Message-ID"]))
        while True:
            if session.down is not None:
                return Delivery(m.id, error=session.down, temporary=True)
            try:
                return _transmit(session.connection(), m, envelope)
            except _Unavailable as exc:
                session.down = str(exc)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                session.drop(f"connection to {self.host}:{self.port} lost: {_describe(exc)}")

    def _compose(self, m: Outgoing) -> tuple[EmailMessage, str, str]:
        if not m.to:
            raise _Invalid("no recipient address")
        to_name, to_addr = _mailbox(m.to, "recipient address")
        from_name, from_addr = self._from(m)
        message = EmailMessage(policy=_POLICY)
        message["From"] = _address(from_name, from_addr)
        message["To"] = _address(to_name, to_addr)
        if m.subject is not None:
            message["Subject"] = _one_line(m.subject)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id(m, from_addr.rpartition("@")[2])
        message["X-Seqctl-Idempotency-Key"] = _one_line(m.idempotency_key)
        if self.unsubscribe is not None:
            url = self.unsubscribe.replace("{contact}", quote(m.contact, safe="")).replace(
                "{key}", quote(m.contact, safe="")
            )
            if self.signer is not None and "{token}" in url:
                url = url.replace("{token}", self.signer(m.id))
            message["List-Unsubscribe"] = f"<{url}>"
            if url.startswith("https://") or url.startswith("http://"):
                message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
        message.set_content(m.body or "")
        html = m.extra.get("html")
        if isinstance(html, str) and html:
            message.add_alternative(html, subtype="html")
        for attachment in m.extra.get("attachments") or []:
            data = attachment.get("data")
            if not isinstance(data, bytes):
                raise _Invalid(f"attachment '{attachment.get('name')}' is not in the database")
            kind = mimetypes.guess_type(str(attachment["name"]))[0] or "application/octet-stream"
            maintype, _, subtype = kind.partition("/")
            message.add_attachment(
                data,
                maintype=maintype,
                subtype=subtype,
                filename=_one_line(str(attachment["name"])),
            )
        return message, from_addr, to_addr

    def _from(self, m: Outgoing) -> tuple[str, str]:
        given = m.extra.get("from")
        if isinstance(given, Mapping) and given.get("email"):
            _, addr = _mailbox(str(given["email"]), "sender address")
            return _one_line(str(given.get("name") or "")), addr
        if isinstance(given, str) and given:
            return _mailbox(given, "sender address")
        if self.sender is None:
            raise _Invalid(f"no sender: set channels.{self.name}.from or the sequence's sender")
        return self.sender

    def connect(self) -> smtplib.SMTP:
        """A ready session: connected, TLS as configured, logged in; _Unavailable otherwise."""
        if self._local_hostname is None:
            self._local_hostname = socket.getfqdn()  # slow on some hosts: once per channel
        where = f"{self.host}:{self.port}"
        smtp: smtplib.SMTP | None = None
        try:
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self._local_hostname,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    self.host, self.port, local_hostname=self._local_hostname, timeout=self.timeout
                )
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.credentials is not None:
                smtp.login(*self.credentials)
        except smtplib.SMTPAuthenticationError as exc:
            _quit(smtp)
            raise _Unavailable(f"{where} refused the login: {_reply(exc)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            _quit(smtp)
            raise _Unavailable(f"{where}: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            _quit(smtp)
            raise _Unavailable(f"{where} refused the session: {_reply(exc)}") from None
        except (OSError, ssl.SSLError) as exc:
            _quit(smtp)
            raise _Unavailable(f"cannot connect to {where}: {_describe(exc)}") from None
        return smtp


class _Session:
    """The connection of one batch: opened on first use, reopened once if the server drops it."""

    def __init__(self, channel: SmtpChannel) -> None:
        self.channel = channel
        self.smtp: smtplib.SMTP | None = None
        self.opened = 0
        self.down: str | None = None  # set once the batch has given up on the server

    def connection(self) -> smtplib.SMTP:
        if self.smtp is not None and self.smtp.sock is not None:
            return self.smtp
        self.smtp = None
        if self.opened >= 2:
            raise _Unavailable(f"{self.channel.host}:{self.channel.port} closed the session twice")
        self.opened += 1
        self.smtp = self.channel.connect()
        return self.smtp

    def drop(self, reason: str) -> None:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None
        if self.opened >= 2:
            self.down = reason

    def close(self) -> None:
        _quit(self.smtp)
        self.smtp = None


def _transmit(smtp: smtplib.SMTP, m: Outgoing, envelope: _Envelope) -> Delivery:
    """One SMTP transaction; the server's reply decides permanent (5xx) or temporary (4xx)."""
    code, reply = smtp.mail(envelope.sender)
    if code != 250:
        return _refused(smtp, m, code, reply, f"sender {envelope.sender}")
    code, reply = smtp.rcpt(envelope.recipient)
    if code not in (250, 251):
        return _refused(smtp, m, code, reply, f"recipient {envelope.recipient}")
    try:
        code, reply = smtp.data(envelope.data)
    except smtplib.SMTPDataError as exc:
        return _refused(smtp, m, exc.smtp_code, exc.smtp_error, "message")
    if code != 250:
        return _refused(smtp, m, code, reply, "message")
    found = _QUEUE_ID.search(reply.decode("utf-8", "replace"))
    return Delivery(m.id, provider_id=found.group(1) if found else envelope.message_id)


def _refused(smtp: smtplib.SMTP, m: Outgoing, code: int, reply: bytes | str, what: str) -> Delivery:
    if code == 421:
        smtp.close()  # the server is closing the session; the next message reconnects
    else:
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    error = f"{what} refused: {code} {_text(reply)}".strip()
    return Delivery(m.id, error=error, temporary=not 500 <= code < 600)


def message_id(m: Outgoing, domain: str) -> str:
    """`<key.digest@domain>`: the same for every attempt at one message, so a receiver can drop
    a repeat; the digest keeps keys of other databases or senders from ever colliding."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", ".", m.idempotency_key).strip(".")[:64].strip(".")
    digest = hashlib.sha256(f"{m.idempotency_key}\0{m.sequence}\0{m.contact}".encode()).hexdigest()
    local = f"{readable}.{digest[:16]}" if readable else digest[:16]
    return f"<{local}@{domain or 'seqctl'}>"


def _one_line(text: str) -> str:
    """A header value is one line: any line break becomes a space, so none can start a header."""
    return _BREAKS.sub(" ", text).strip()


def _mailbox(value: str, what: str) -> tuple[str, str]:
    """(display name, address) of one mailbox; _Invalid for anything but exactly one address."""
    if _BREAKS.search(value) or "\0" in value:
        raise _Invalid(f"invalid {what} {value!r}: it contains a line break")
    name, addr = parseaddr(value)
    # parseaddr is lenient: it takes the first of a list and drops spaces inside an address
    if not addr or addr not in value or len(getaddresses([value])) != 1:
        raise _Invalid(f"invalid {what} {value!r}")
    local, at, domain = addr.rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local):
        raise _Invalid(f"invalid {what} {value!r}")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise _Invalid(f"invalid {what} {value!r}: bad domain") from None
    if not all(_LABEL.fullmatch(label) for label in domain.split(".")):
        raise _Invalid(f"invalid {what} {value!r}: bad domain")
    return _one_line(name), f"{local}@{domain}"


def _address(name: str, addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def _credentials(
    spec: Mapping[str, Any], environ: Mapping[str, str], where: str
) -> tuple[str, str] | None:
    user_env, password_env = spec.get("username_env"), spec.get("password_env")
    if not user_env and not password_env:
        return None
    if not user_env or not password_env:
        raise ConfigError(f"{where}: username_env and password_env go together")
    values = []
    for variable in (str(user_env), str(password_env)):
        value = environ.get(variable)
        if not value:
            raise ConfigError(f"{where}: environment variable {variable} is not set")
        values.append(value)
    return values[0], values[1]


def _unsubscribe_template(value: Any, where: str) -> str | None:
    if value is None:
        return None
    text = str(value)
    if not re.fullmatch(r"(https?://|mailto:)[^\s<>\"]+", text):
        raise ConfigError(
            f"{where}: unsubscribe_url must be one https://, http:// or mailto: URL: {text!r}"
        )
    return text


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}".strip()


def _text(reply: bytes | str) -> str:
    return _one_line(reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return _one_line(str(exc)) or type(exc).__name__


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        if smtp.sock is not None:
            smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()
