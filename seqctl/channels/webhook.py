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
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

from seqctl import credentials
from seqctl.channels.base import Flow, Journal, Outgoing, Progress
from seqctl.channels.headers import configured_headers, header_from_data
from seqctl.channels.lanes import Lanes
from seqctl.channels.webhook_pool import Origins, Proxies, WebhookLane, connection_for
from seqctl.errors import ConfigError

DEFAULT_TIMEOUT = 10.0  # seconds for each reply
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_CONNECTIONS = 16  # requests at once per channel, each on a connection kept alive
_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))  # kept in a URL's path as they are


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
        """ValueError unless `url` is one absolute http(s) URL without credentials; characters
        other than printable ASCII in its path and query are percent-encoded."""
        shown = credentials.redacted_url(url)
        if re.search(r"[\s\x00-\x1f\x7f]", url):
            raise ValueError(f"invalid URL {shown!r}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"invalid URL {shown!r}: an http:// or https:// URL is needed")
        if "@" in parts.netloc:
            raise ValueError(
                f"invalid URL {shown!r}: a user name or password does not go in a URL; put the "
                "credential in an environment variable and name it in the channel's "
                "headers_env (headers_env: {Authorization: WEBHOOK_AUTH})"
            )
        port = parts.port or (443 if parts.scheme == "https" else 80)  # ValueError if bad
        host = parts.hostname
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise ValueError(f"invalid URL {shown!r}: bad host name") from None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.scheme, host, port, quote(target, safe=_PRINTABLE))


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
            value = credentials.env_value(environ, str(spec["secret_env"]), f"{where}.secret_env")
            self.secret = value.encode("utf-8")
        self.headers = configured_headers(spec, environ, where)
        # Values from headers_env: hidden from errors, should the server echo them back.
        self.hidden = [self.headers[str(name)] for name in spec.get("headers_env") or {}]
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
        self._origins = Origins()
        self._lanes = Lanes(self.name, self.connections, lambda: WebhookLane(self, self._origins))

    knows_delivered = False  # an endpoint cannot be asked what it got

    def send(
        self, messages: Sequence[Outgoing], halt: Callable[[], bool] | None = None
    ) -> Iterator[Progress]:
        return self._lanes.run(messages, halt)

    def flow(self, halt: Callable[[], bool] | None = None, journal: Journal | None = None) -> Flow:
        """The connections, fed batch after batch (see lanes.LaneFlow)."""
        return self._lanes.flow(halt, journal)

    def delivered(self, keys: set[str]) -> set[str]:
        """A webhook cannot be asked: a message in flight is POSTed again with the same key."""
        return set()

    @cached_property
    def tls(self) -> ssl.SSLContext:
        """The system's CAs, loaded when a connection first needs them: loading them takes
        about 40 ms, which a tick with nothing to encrypt need not pay."""
        return ssl.create_default_context()

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
            "Idempotency-Key": header_from_data(m.idempotency_key),
        }
        signature = self.signature(body)
        if signature is not None:
            headers["X-Seqctl-Signature"] = signature
            timestamp = int(self.clock())
            webhook_id = header_from_data(m.idempotency_key)
            headers["webhook-id"] = webhook_id
            headers["webhook-timestamp"] = str(timestamp)
            standard = self.standard_signature(webhook_id, timestamp, body)
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
