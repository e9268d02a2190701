"""The webhook channel: each message POSTed as signed JSON. The transport (connections kept for
the tick, many at once, proxies, Retry-After, the breaker) is in webhook_pool."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import re
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from seqctl import __version__
from seqctl.channels.base import Outgoing, Progress
from seqctl.channels.lanes import Lanes
from seqctl.channels.webhook_pool import Origins, Proxies, WebhookLane, connection_for
from seqctl.errors import ConfigError

DEFAULT_TIMEOUT = 10.0  # seconds for each reply
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_CONNECTIONS = 16  # requests at once per channel, each on a connection kept alive
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_RESERVED = {"content-type", "content-length", "host", "idempotency-key", "x-seqctl-signature"}
_RESERVED |= {"webhook-id", "webhook-timestamp", "webhook-signature"}  # Standard Webhooks


@dataclass(frozen=True)
class _Endpoint:
    scheme: str
    host: str
    port: int
    target: str  # path and query

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @classmethod
    def parse(cls, url: str) -> _Endpoint:
        """ValueError unless `url` is one absolute http(s) URL."""
        if re.search(r"[\s\x00-\x1f\x7f]", url):
            raise ValueError(f"invalid URL {url!r}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"invalid URL {url!r}: an http:// or https:// URL is needed")
        port = parts.port or (443 if parts.scheme == "https" else 80)  # ValueError if bad
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.scheme, parts.hostname, port, target)


class WebhookChannel:
    """POSTs each message (its JSON shape) with Idempotency-Key and an HMAC signature."""

    def __init__(
        self, spec: Mapping[str, Any], *, name: str, environ: Mapping[str, str] = os.environ
    ) -> None:
        self.name = name
        where = f"channels.{name}"
        if not spec.get("url"):
            raise ConfigError(f"{where}: a webhook channel needs a url")
        try:
            self.endpoint = _Endpoint.parse(str(spec["url"]))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        self.timeout = float(spec.get("timeout", DEFAULT_TIMEOUT))
        self.secret: bytes | None = None
        if spec.get("secret_env"):
            variable = str(spec["secret_env"])
            value = environ.get(variable)
            if not value:
                raise ConfigError(f"{where}: environment variable {variable} is not set")
            self.secret = value.encode("utf-8")
        self.headers = _configured_headers(spec.get("headers") or {}, where)
        self._transport(spec, environ, where)

    def _transport(self, spec: Mapping[str, Any], environ: Mapping[str, str], where: str) -> None:
        """The settings of the connections, and the lanes that will hold them (none open)."""
        self.connect_timeout = float(spec.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
        self.connections = int(spec.get("connections", DEFAULT_CONNECTIONS))
        try:
            self.proxies = Proxies(environ)
            self.signing_key = standard_webhooks_key(self.secret)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        self.clock = time.time  # webhook-timestamp: the real time of sending, not --now
        self.tls = ssl.create_default_context()  # the system's CAs
        self._origins = Origins()
        self._lanes = Lanes(self.name, self.connections, lambda: WebhookLane(self, self._origins))

    knows_delivered = False  # an endpoint cannot be asked what it got

    def send(
        self, messages: Sequence[Outgoing], halt: Callable[[], bool] | None = None
    ) -> Iterator[Progress]:
        return self._lanes.run(messages, halt)

    def delivered(self, keys: set[str]) -> set[str]:
        """A webhook cannot be asked: a message in flight is POSTed again with the same key."""
        return set()

    def close(self) -> None:
        """Close the kept-alive connections (the end of the tick)."""
        self._lanes.close()

    def signature(self, body: bytes) -> str | None:
        """The X-Seqctl-Signature value for these exact body bytes (None without a secret)."""
        if self.secret is None:
            return None
        return "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    def standard_signature(self, message_id: str, timestamp: int, body: bytes) -> str | None:
        """The webhook-signature value (Standard Webhooks): `v1,` and the base64 HMAC-SHA256
        of `id.timestamp.body` (None without a secret)."""
        if self.signing_key is None:
            return None
        signed = f"{message_id}.{timestamp}.".encode() + body
        digest = hmac.new(self.signing_key, signed, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode("ascii")

    def headers_for(self, m: Outgoing, body: bytes) -> dict[str, str]:
        """The headers of one POST: the configured ones, the key and the signatures."""
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": m.idempotency_key,
        }
        signature = self.signature(body)
        if signature is not None:
            headers["X-Seqctl-Signature"] = signature
            timestamp = int(self.clock())
            headers["webhook-id"] = m.idempotency_key
            headers["webhook-timestamp"] = str(timestamp)
            standard = self.standard_signature(m.idempotency_key, timestamp, body)
            assert standard is not None
            headers["webhook-signature"] = standard
        return headers

    def endpoint_for(self, m: Outgoing) -> _Endpoint:
        """Where a message goes: a webhook step's own `url`, else the channel's."""
        return self._endpoint_for(m)

    def request_target(self, endpoint: _Endpoint) -> tuple[str, dict[str, str]]:
        """The path, or the whole URL for an http:// endpoint reached through a proxy (with
        the proxy's credentials, if its URL has them)."""
        proxy = self.proxies.for_endpoint(endpoint.scheme, endpoint.host)
        if proxy is None or endpoint.scheme != "http":
            return endpoint.target, {}
        url = f"http://{endpoint.host}:{endpoint.port}{endpoint.target}"
        return url, {"Proxy-Authorization": proxy.authorization} if proxy.authorization else {}

    def connect(self, endpoint: _Endpoint) -> http.client.HTTPConnection:
        """A connection to the endpoint (through the environment's proxy, if it has one)."""
        proxy = self.proxies.for_endpoint(endpoint.scheme, endpoint.host)
        return connection_for(endpoint, proxy, self.timeout, self.connect_timeout, self.tls)

    def _endpoint_for(self, m: Outgoing) -> _Endpoint:
        # A webhook step with its own `url` carries it as the address; others use the channel's.
        if m.channel == "webhook" and m.to and re.match(r"https?://", m.to):
            return _Endpoint.parse(m.to)
        return self.endpoint


def _configured_headers(headers: Mapping[str, Any], where: str) -> dict[str, str]:
    checked: dict[str, str] = {}
    for header, value in headers.items():
        if not _TOKEN.fullmatch(str(header)):
            raise ConfigError(f"{where}.headers: invalid header name {header!r}")
        if str(header).lower() in _RESERVED:
            raise ConfigError(f"{where}.headers: {header} is set by seqctl")
        if re.search(r"[\r\n\x00]", str(value)):
            raise ConfigError(f"{where}.headers.{header}: a value must be one line")
        checked[str(header)] = str(value)
    if not any(header.lower() == "user-agent" for header in checked):
        checked["User-Agent"] = f"seqctl/{__version__}"
    return checked


def standard_webhooks_key(secret: bytes | None) -> bytes | None:
    """The key of webhook-signature: the base64 after `whsec_` (as Standard Webhooks secrets
    are written), else the secret's own bytes."""
    if secret is None:
        return None
    if not secret.startswith(b"whsec_"):
        return secret
    try:
        return base64.b64decode(secret.removeprefix(b"whsec_"), validate=True)
    except ValueError:
        raise ValueError("a whsec_ secret must be base64 after the prefix") from None
