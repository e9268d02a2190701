"""Webhook transport: kept-alive connections for the whole tick, many requests at once, the
proxy of the environment, Retry-After, a timeout on the connection and on every reply.

Measured before choosing (bench/delivery.py, a server that waits before each reply): threads
with `http.client` connections kept alive keep up with as many aiohttp connections, and httpx
with as many stayed near 300 requests a second at every latency. The standard library also
keeps the tick from loading an event loop, and the threads leave the database to the tick's
own thread (see lanes).
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from seqctl.channels.base import Delivery, Outgoing
from seqctl.channels.breaker import Breaker
from seqctl.channels.headers import without_secrets

if TYPE_CHECKING:
    from seqctl.channels.webhook import WebhookChannel, _Endpoint

READ_LIMIT = 64 * 1024
EXCERPT = 200
# A kept-alive connection the server has closed in between fails like this before any reply.
_STALE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
_RETRY_AFTER_STATUSES = (429, 503)


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # Proxy-Authorization, from user:password in its URL

    @classmethod
    def parse(cls, url: str) -> Proxy:
        """ValueError unless `url` is an http:// proxy (host and port; the scheme optional)."""
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"proxy {url!r}: only http:// proxies are supported")
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode()).decode()
        return cls(parts.hostname, parts.port or 80, authorization)


class Proxies:
    """HTTPS_PROXY, HTTP_PROXY and NO_PROXY as curl and urllib read them (lowercase first)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.settings: dict[str, str] = {}
        for name in ("http", "https", "no"):
            value = environ.get(f"{name}_proxy") or environ.get(f"{name.upper()}_PROXY")
            if value:
                self.settings[name] = value
        self.by_scheme: dict[str, Proxy] = {
            scheme: Proxy.parse(self.settings[scheme])
            for scheme in ("http", "https")
            if scheme in self.settings
        }
        self.bypass = [
            _host_of(entry) for entry in self.settings.get("no", "").split(",") if entry.strip()
        ]

    def for_endpoint(self, scheme: str, host: str) -> Proxy | None:
        """The proxy for this endpoint, unless NO_PROXY names its host or a domain above it."""
        proxy = self.by_scheme.get(scheme)
        if proxy is None:
            return None
        host = _host_of(host)
        for entry in self.bypass:
            if entry == "*" or host == entry or host.endswith("." + entry):
                return None
        return proxy


def _host_of(entry: str) -> str:
    """A NO_PROXY entry or a host as compared: lowercase, no leading dot, port or brackets."""
    entry = entry.strip().lower().lstrip(".")
    if entry.startswith("["):
        return entry[1:].partition("]")[0]
    if entry.count(":") == 1:
        entry = entry.partition(":")[0]
    return entry


class Origins:
    """A breaker per origin (a webhook step may post to a URL of its own)."""

    def __init__(self) -> None:
        self._breakers: dict[str, Breaker] = {}
        self._lock = threading.Lock()

    def breaker(self, origin: str) -> Breaker:
        with self._lock:
            found = self._breakers.get(origin)
            if found is None:
                found = self._breakers[origin] = Breaker()
            return found


class WebhookLane:
    """One request at a time, over connections kept alive per origin."""

    def __init__(self, channel: WebhookChannel, origins: Origins) -> None:
        self.channel = channel
        self.origins = origins
        self.connections: dict[str, http.client.HTTPConnection] = {}

    def open(self) -> str | None:
        return None  # connections are made on first use, per origin

    def held(self, message: Outgoing) -> Delivery | None:
        try:
            endpoint = self.channel.endpoint_for(message)
        except ValueError:
            return None  # send says why
        return self.origins.breaker(endpoint.origin).hold(message.id)

    def send(self, m: Outgoing) -> Delivery:
        try:
            endpoint = self.channel.endpoint_for(m)
        except ValueError as exc:
            return Delivery(m.id, error=str(exc), temporary=False)
        body = m.json_text().encode("utf-8")
        headers = self.channel.headers_for(m, body)
        origin = endpoint.origin
        breaker = self.origins.breaker(origin)
        target, through = self.channel.request_target(endpoint)
        headers.update(through)
        for retry in (False, True):
            held = breaker.hold(m.id)
            if held is not None:
                return held
            connection = self.connections.get(origin)
            if connection is None or connection.sock is None:
                try:
                    connection = self.connections[origin] = self.channel.connect(endpoint)
                except (OSError, http.client.HTTPException) as exc:
                    self.connections.pop(origin, None)
                    breaker.trip(f"cannot connect to {origin}: {describe(exc)}")
                    continue
            sent = False
            try:
                connection.request("POST", target, body=body, headers=headers)
                sent = True
                response = connection.getresponse()
                data = response.read(READ_LIMIT)
                if not response.isclosed():
                    connection.close()  # a reply too long to drain: not reusable
            except _STALE as exc:
                self._drop(origin)
                if not retry:
                    # Closed before any reply: the kept-alive connection timed out on the
                    # server, or a busy server reset a new one. Once more on a fresh one.
                    continue
                breaker.failed(f"{origin}: {describe(exc)}")
                return Delivery(
                    m.id, error=f"{origin}: {describe(exc)}", temporary=True, unknown=int(sent)
                )
            except (OSError, http.client.HTTPException) as exc:
                self._drop(origin)
                error = f"{origin}: {describe(exc)}"
                breaker.failed(error)
                if sent:  # the request went out whole: the endpoint may have it
                    error += "; outcome unknown, sent again later with the same Idempotency-Key"
                return Delivery(m.id, error=error, temporary=True, unknown=int(sent))
            return without_secrets(
                _outcome(m, response, data, breaker, origin), self.channel.hidden
            )
        return breaker.hold(m.id) or Delivery(
            m.id, error=f"{origin}: connection lost", temporary=True
        )

    def _drop(self, origin: str) -> None:
        connection = self.connections.pop(origin, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()


def _outcome(
    m: Outgoing, response: http.client.HTTPResponse, data: bytes, breaker: Breaker, origin: str
) -> Delivery:
    """2xx sent; 408, 429 and 5xx temporary (Retry-After honoured); anything else permanent."""
    status = response.status
    if 200 <= status < 300:
        breaker.worked()
        return Delivery(m.id, provider_id=response_id(data) or m.idempotency_key)
    excerpt = " ".join(data[:EXCERPT].decode("utf-8", "replace").split())
    error = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    temporary = status in (408, 429) or 500 <= status < 600
    wait = None
    if status in _RETRY_AFTER_STATUSES:
        wait = retry_after(response.getheader("Retry-After"))
    if wait is not None:
        breaker.trip(f"{origin} answered HTTP {status} (Retry-After: {wait:.0f} s)", wait)
    elif temporary:
        breaker.failed(f"{origin} answered HTTP {status}")
    else:
        breaker.worked()
    return Delivery(m.id, error=error, temporary=temporary, retry_after=wait)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def response_id(data: bytes) -> str | None:
    if not data.lstrip().startswith(b"{"):
        return None
    try:
        reply = json.loads(data)
    except ValueError:
        return None
    found = reply.get("id") if isinstance(reply, dict) else None
    if isinstance(found, str | int) and not isinstance(found, bool) and str(found):
        return str(found)[:EXCERPT]
    return None


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return " ".join(str(exc).split()) or type(exc).__name__


def connection_for(
    endpoint: _Endpoint,
    proxy: Proxy | None,
    timeout: float,
    connect_timeout: float,
    tls: ssl.SSLContext,
) -> http.client.HTTPConnection:
    """A connected connection to `endpoint` (through `proxy`: CONNECT for https, the absolute
    URL for http); the connect timeout for connecting, `timeout` for every reply after."""
    host, port = (proxy.host, proxy.port) if proxy is not None else (endpoint.host, endpoint.port)
    connection: http.client.HTTPConnection
    if endpoint.scheme == "https":
        connection = http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=tls)
        if proxy is not None:
            tunnel = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
            connection.set_tunnel(endpoint.host, endpoint.port, headers=tunnel)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
    connection.connect()
    assert connection.sock is not None
    connection.sock.settimeout(timeout)
    connection.timeout = timeout
    return connection
