"""The SMTP channel: proper MIME, and no way to inject a header. The transport (connections
kept for the tick, pipelining, timeouts, the breaker) is in smtp_pool."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, parseaddr
from functools import cached_property
from typing import Any
from urllib.parse import quote

from seqctl import credentials
from seqctl.channels import mime
from seqctl.channels.base import Flow, Journal, Outgoing, Progress
from seqctl.channels.lanes import Lanes
from seqctl.channels.smtp_pool import Envelope, Server, SmtpLane
from seqctl.errors import ConfigError

DEFAULT_TIMEOUT = 30.0  # seconds for each reply
DEFAULT_CONNECT_TIMEOUT = 10.0  # seconds to connect and be greeted
DEFAULT_CONNECTIONS = 4  # at once per channel: several, within what providers allow
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}

_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


class _Invalid(Exception):
    """This message can never be sent as it is (a bad address): a permanent failure."""


class SmtpChannel:
    """Sends over a few connections at once, each kept for the whole tick."""

    knows_delivered = False  # a server cannot be asked what it got

    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        name: str,
        environ: Mapping[str, str] = os.environ,
        signer: Callable[[int], str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = name
        self.clock = clock  # None: the Date header is the real time of sending
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
        self._transport(spec, where)

    def _transport(self, spec: Mapping[str, Any], where: str) -> None:
        """The settings of the connections, and the connections themselves (none open yet)."""
        self.connect_timeout = float(spec.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
        self.connections = int(spec.get("connections", DEFAULT_CONNECTIONS))
        self.pipelining = bool(spec.get("pipelining", True))
        if self.credentials is not None and credentials.plaintext_login({**spec, "kind": "smtp"}):
            raise ConfigError(
                f"{where}: the password would cross the network unencrypted to {self.host}; "
                "set security: starttls or tls (or allow_plaintext_auth: true if you mean it)"
            )
        self._hostname_lock = threading.Lock()
        self._lanes = Lanes(self.name, self.connections, lambda: SmtpLane(self, self._server))
        self._server = Server()

    def send(
        self, messages: Sequence[Outgoing], halt: Callable[[], bool] | None = None
    ) -> Iterator[Progress]:
        return self._lanes.run(messages, halt)

    def flow(self, halt: Callable[[], bool] | None = None, journal: Journal | None = None) -> Flow:
        """The connections, fed batch after batch (see lanes.LaneFlow)."""
        return self._lanes.flow(halt, journal)

    def delivered(self, keys: set[str]) -> set[str]:
        """SMTP cannot be asked: a message in flight is sent again with the same Message-ID."""
        return set()

    @cached_property
    def tls(self) -> ssl.SSLContext:
        """The system's CAs, loaded when a connection first needs them: loading them takes
        about 40 ms, which a tick with nothing to encrypt need not pay."""
        return ssl.create_default_context()

    def close(self) -> None:
        """QUIT every connection (the end of the tick)."""
        self._lanes.close()

    def envelope(self, m: Outgoing) -> Envelope:
        """The message as it goes on the wire; ValueError when it can never be sent as it is."""
        try:
            return self._compose(m)
        except _Invalid as exc:
            raise ValueError(str(exc)) from None

    def local_hostname(self) -> str:
        """The name said in EHLO (slow to find on some hosts: once per channel)."""
        with self._hostname_lock:
            if self._local_hostname is None:
                self._local_hostname = socket.getfqdn()
            return self._local_hostname

    def _compose(self, m: Outgoing) -> Envelope:
        """The message as it goes on the wire. Every header made from data is composed by
        seqctl.channels.mime and set raw: the email package never parses text from data."""
        if not m.to:
            raise _Invalid("no recipient address")
        to_name, to_addr = _mailbox(m.to, "recipient address")
        from_name, from_addr = self._from(m)
        msgid = message_id(m, from_addr.rpartition("@")[2])
        message = EmailMessage(policy=mime.POLICY)
        message.set_raw("From", mime.mailbox("From", from_name, from_addr))
        message.set_raw("To", mime.mailbox("To", to_name, to_addr))
        if m.subject is not None:
            message.set_raw("Subject", mime.unstructured("Subject", m.subject))
        when = self.clock().timestamp() if self.clock is not None else None
        message.set_raw("Date", formatdate(when, usegmt=True))
        message.set_raw("Message-ID", msgid)
        key = mime.unstructured("X-Seqctl-Idempotency-Key", m.idempotency_key)
        message.set_raw("X-Seqctl-Idempotency-Key", key)
        if self.unsubscribe is not None:
            url = self.unsubscribe.replace("{contact}", quote(m.contact, safe="")).replace(
                "{key}", quote(m.contact, safe="")
            )
            if self.signer is not None and "{token}" in url:
                url = url.replace("{token}", self.signer(m.id))
            message.set_raw("List-Unsubscribe", f"<{url}>")
            if url.startswith("https://") or url.startswith("http://"):
                message.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")  # RFC 8058
        message.set_content(m.body or "")
        html = m.extra.get("html")
        if isinstance(html, str) and html:
            message.add_alternative(html, subtype="html")
        for attachment in m.extra.get("attachments") or []:
            _attach(message, attachment)
        try:
            data = message.as_bytes()
        except mime.UnsafeHeader as exc:
            raise _Invalid(str(exc)) from None
        return Envelope(from_addr, to_addr, data, msgid)

    def _from(self, m: Outgoing) -> tuple[str, str]:
        given = m.extra.get("from")
        if isinstance(given, Mapping) and given.get("email"):
            _, addr = _mailbox(str(given["email"]), "sender address")
            return str(given.get("name") or ""), addr
        if isinstance(given, str) and given:
            return _mailbox(given, "sender address")
        if self.sender is None:
            raise _Invalid(f"no sender: set channels.{self.name}.from or the sequence's sender")
        return self.sender


def message_id(m: Outgoing, domain: str) -> str:
    """`<key.digest@domain>`: the same for every attempt at one message, so a receiver can drop
    a repeat; the digest keeps keys of other databases or senders from ever colliding."""
    return f"<{message_id_local(m.idempotency_key, m.sequence, m.contact)}@{domain or 'seqctl'}>"


def message_id_local(idempotency_key: str, sequence: str, contact: str) -> str:
    """A Message-ID's part before the @, which does not depend on the sender: `inbox sync`
    finds the message a reply answers by it."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", ".", idempotency_key).strip(".")[:64].strip(".")
    digest = hashlib.sha256(f"{idempotency_key}\0{sequence}\0{contact}".encode()).hexdigest()
    return f"{readable}.{digest[:16]}" if readable else digest[:16]


def _one_line(text: str) -> str:
    """Text for one line (of an error message): line breaks and control characters become a
    space, so a server's reply cannot break the line it is shown on."""
    return mime.one_line(text)


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
    return name, f"{local}@{domain}"


def _attach(message: EmailMessage, attachment: Mapping[str, Any]) -> None:
    """A file as a part of its own, its name in a Content-Disposition composed by mime."""
    data = attachment.get("data")
    if not isinstance(data, bytes):
        raise _Invalid(f"attachment '{attachment.get('name')}' is not in the database")
    name = str(attachment["name"])
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    maintype, _, subtype = kind.partition("/")
    part = EmailMessage(policy=mime.POLICY)
    part.set_content(data, maintype=maintype, subtype=subtype)
    del part["MIME-Version"]  # the message has it; a part needs none
    part.set_raw("Content-Disposition", mime.attachment(name))
    if message.get_content_type() != "multipart/mixed":
        message.make_mixed()
    message.attach(part)


def _credentials(
    spec: Mapping[str, Any], environ: Mapping[str, str], where: str
) -> tuple[str, str] | None:
    user_env, password_env = spec.get("username_env"), spec.get("password_env")
    if not user_env and not password_env:
        return None
    if not user_env or not password_env:
        raise ConfigError(f"{where}: username_env and password_env go together")
    user = credentials.env_value(environ, str(user_env), f"{where}.username_env")
    return user, credentials.env_value(environ, str(password_env), f"{where}.password_env")


def _unsubscribe_template(value: Any, where: str) -> str | None:
    if value is None:
        return None
    text = str(value)
    # Printable ASCII but for <, > and ": it goes in a header as it is, between < and >.
    if not re.fullmatch(r"(https?://|mailto:)[!#-;=?-~]+", text):
        shown = credentials.redacted_url(text)
        raise ConfigError(
            f"{where}: unsubscribe_url must be one https://, http:// or mailto: URL, in plain "
            f"ASCII without spaces (percent-encode other characters): {shown!r}"
        )
    return text
