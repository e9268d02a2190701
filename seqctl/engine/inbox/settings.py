"""The `inboxes:` of seqctl.yaml, checked beyond the schema and ready to use.

Secrets come from the environment only (`username_env`, `password_env` name the variables) and
are never printed. A connection in clear text (`security: none`) is refused for anything but
this machine unless `allow_insecure: true` says the network is trusted: it would send the
password as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from enum import Enum
from typing import Any

from seqctl.engine.inbox.classify import UnsubscribeAddress
from seqctl.engine.inbox.match import Served
from seqctl.errors import ConfigError, SeqctlError

DEFAULT_FOLDERS = ("INBOX",)
DEFAULT_TIMEOUT = 30.0
# Of each message, this much is fetched: all of nearly every mail; of a big one, its headers
# and first parts (the text, a bounce's report), never its attachments.
FETCH_LIMIT = 256 * 1024
BATCH_SIZE = 100
LOCAL_HOSTS = frozenset(("127.0.0.1", "localhost", "::1"))


class Security(Enum):
    TLS = "tls"
    STARTTLS = "starttls"
    NONE = "none"


DEFAULT_PORTS = {Security.TLS: 993, Security.STARTTLS: 143, Security.NONE: 143}


@dataclass(frozen=True)
class InboxSettings:
    """One inbox of `inboxes:`."""

    name: str
    host: str
    port: int
    security: Security
    username_env: str
    password_env: str
    folders: tuple[str, ...] = DEFAULT_FOLDERS
    served: Served = Served(None)
    mark_seen: bool = False
    move_to: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    unsubscribe: tuple[UnsubscribeAddress, ...] = ()
    fetch_limit: int = FETCH_LIMIT
    batch_size: int = BATCH_SIZE

    @property
    def writes(self) -> bool:
        """Whether the sync changes the mailbox (only when the configuration asks)."""
        return self.mark_seen or self.move_to is not None

    def credentials(self, environ: Mapping[str, str]) -> tuple[str, str]:
        """(user, password) from the environment; ConfigError naming the variable missing."""
        values = []
        for key, variable in (
            ("username_env", self.username_env),
            ("password_env", self.password_env),
        ):
            value = environ.get(variable)
            if not value:
                raise ConfigError(f"environment variable {variable} is not set (its {key})")
            values.append(value)
        return values[0], values[1]


def inbox_settings(config: Mapping[str, Any]) -> list[InboxSettings]:
    """The configured inboxes (none when `inboxes:` is absent); ConfigError for a bad one."""
    inboxes = config.get("inboxes") or {}
    channels = config.get("channels") or {}
    unsubscribe = _unsubscribe_addresses(channels)
    default_sender = _default_sender(channels)
    return [_inbox(str(name), spec, unsubscribe, default_sender) for name, spec in inboxes.items()]


def _inbox(
    name: str,
    spec: Mapping[str, Any],
    unsubscribe: tuple[UnsubscribeAddress, ...],
    default_sender: str | None,
) -> InboxSettings:
    where = f"inboxes.{name}"
    if not spec.get("host"):
        raise ConfigError(f"{where}: an inbox needs a host")
    if not spec.get("username_env") or not spec.get("password_env"):
        raise ConfigError(f"{where}: an inbox needs username_env and password_env")
    host = str(spec["host"])
    try:
        security = Security(str(spec.get("security", "tls")))
    except ValueError:
        raise ConfigError(f"{where}: security must be tls, starttls or none") from None
    if security is Security.NONE and host.lower() not in LOCAL_HOSTS:
        if spec.get("allow_insecure") is not True:
            raise ConfigError(
                f"{where}: security none would send the password to {host} in clear text; use "
                "tls or starttls (or allow_insecure: true on a network you trust)"
            )
    senders = spec.get("senders")
    move_to = spec.get("move_to")
    return InboxSettings(
        name=name,
        host=host,
        port=int(spec.get("port", DEFAULT_PORTS[security])),
        security=security,
        username_env=str(spec["username_env"]),
        password_env=str(spec["password_env"]),
        folders=tuple(str(f) for f in spec.get("folders") or DEFAULT_FOLDERS),
        served=Served(
            frozenset(str(s).lower() for s in senders) if senders else None, default_sender
        ),
        mark_seen=spec.get("mark_seen") is True,
        move_to=str(move_to) if move_to else None,
        timeout=float(spec.get("timeout", DEFAULT_TIMEOUT)),
        unsubscribe=unsubscribe,
    )


def _unsubscribe_addresses(channels: Mapping[str, Any]) -> tuple[UnsubscribeAddress, ...]:
    """The `mailto:` List-Unsubscribe addresses the smtp channels put on mail."""
    found = []
    for spec in channels.values():
        if isinstance(spec, Mapping) and spec.get("kind") == "smtp" and spec.get("unsubscribe_url"):
            address = UnsubscribeAddress.from_url(str(spec["unsubscribe_url"]))
            if address is not None:
                found.append(address)
    return tuple(found)


def _default_sender(channels: Mapping[str, Any]) -> str | None:
    """The email channel's `from` address: the sender of sequences that name none."""
    spec = channels.get("email") or channels.get("default") or {}
    if isinstance(spec, Mapping) and spec.get("kind") == "smtp" and spec.get("from"):
        return parseaddr(str(spec["from"]))[1].lower() or None
    return None


def configured_folders(config: Mapping[str, Any] | None) -> set[tuple[str, str]] | None:
    """(inbox, folder) of each folder seqctl.yaml reads; None when that cannot be told (no
    configuration, or a broken `inboxes:`, which `inbox sync` reports): then every folder."""
    if config is None:
        return None
    try:
        return {(s.name, f) for s in inbox_settings(config) for f in s.folders}
    except SeqctlError:
        return None
