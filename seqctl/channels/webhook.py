"""The webhook channel: each message POSTed as signed JSON, a few kept-alive connections a batch."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import queue
import re
import ssl
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from seqctl import credentials
from seqctl.channels.base import Delivery, Outgoing
from seqctl.channels.headers import configured_headers, header_from_data, without_secrets
from seqctl.errors import ConfigError

DEFAULT_TIMEOUT = 10.0
WORKERS = 4  # concurrent requests a batch, each worker with its own connection
TIMEOUTS_BEFORE_GIVING_UP = 3  # an endpoint that keeps timing out is left alone for this batch
_EXCERPT = 200
_READ_LIMIT = 64 * 1024
# A kept-alive connection the server has closed in between fails like this before any reply.
_STALE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
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
        self.workers = WORKERS
        self._tls = ssl.create_default_context()

    def send(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        if not messages:
            return []
        batch = _Batch(messages)
        workers = min(self.workers, len(messages))
        with ThreadPoolExecutor(workers, thread_name_prefix=f"seqctl-{self.name}") as pool:
            try:
                for future in [pool.submit(self._work, batch) for _ in range(workers)]:
                    future.result()
            except BaseException:  # Ctrl-C twice: finish the requests under way, no more
                batch.drain()
                raise
        return batch.deliveries()

    def delivered(self, keys: set[str]) -> set[str]:
        """A webhook cannot be asked: a message in flight is POSTed again with the same key."""
        return set()

    def close(self) -> None:
        return None  # connections live for one batch

    def signature(self, body: bytes) -> str | None:
        """The X-Seqctl-Signature value for these exact body bytes (None without a secret)."""
        if self.secret is None:
            return None
        return "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    def _work(self, batch: _Batch) -> None:
        connections: dict[str, http.client.HTTPConnection] = {}
        try:
            while (index := batch.next()) is not None:
                batch.results[index] = self._post(batch, batch.messages[index], connections)
        finally:
            for connection in connections.values():
                connection.close()

    def _post(
        self, batch: _Batch, m: Outgoing, connections: dict[str, http.client.HTTPConnection]
    ) -> Delivery:
        try:
            endpoint = self._endpoint_for(m)
        except ValueError as exc:
            return Delivery(m.id, error=str(exc), temporary=False)
        body = m.json_text().encode("utf-8")
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": header_from_data(m.idempotency_key),
        }
        signature = self.signature(body)
        if signature is not None:
            headers["X-Seqctl-Signature"] = signature
        origin = endpoint.origin
        for retry in (False, True):
            given_up = batch.given_up(origin)
            if given_up is not None:
                return Delivery(m.id, error=given_up, temporary=True)
            connection = connections.get(origin)
            reused = connection is not None and connection.sock is not None
            try:
                if connection is None or connection.sock is None:
                    connection = connections[origin] = self._connect(endpoint)
            except OSError as exc:
                connections.pop(origin, None)
                batch.give_up(origin, f"cannot connect to {origin}: {_describe(exc)}")
                continue
            try:
                connection.request("POST", endpoint.target, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read(_READ_LIMIT)
                if not response.isclosed():
                    connection.close()  # a reply too long to drain: not reusable
            except _STALE as exc:
                connections.pop(origin).close()
                if reused and not retry:
                    continue  # the kept-alive connection was closed: once more on a fresh one
                return Delivery(m.id, error=f"{origin}: {_describe(exc)}", temporary=True)
            except (OSError, http.client.HTTPException) as exc:
                connections.pop(origin).close()
                if isinstance(exc, TimeoutError):
                    batch.timed_out(origin)
                return Delivery(m.id, error=f"{origin}: {_describe(exc)}", temporary=True)
            return without_secrets(_outcome(m, response.status, data), self.hidden)
        given_up = batch.given_up(origin)
        return Delivery(m.id, error=given_up or f"{origin}: connection lost", temporary=True)

    def _endpoint_for(self, m: Outgoing) -> _Endpoint:
        # A webhook step with its own `url` carries it as the address; others use the channel's.
        if m.channel == "webhook" and m.to and re.match(r"https?://", m.to):
            return _Endpoint.parse(m.to)
        return self.endpoint

    def _connect(self, endpoint: _Endpoint) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if endpoint.scheme == "https":
            connection = http.client.HTTPSConnection(
                endpoint.host, endpoint.port, timeout=self.timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(
                endpoint.host, endpoint.port, timeout=self.timeout
            )
        connection.connect()
        return connection


class _Batch:
    """What the workers of one `send` share: the next message, the results, endpoints given up."""

    def __init__(self, messages: Sequence[Outgoing]) -> None:
        self.messages = messages
        self.results: list[Delivery | None] = [None] * len(messages)
        self._pending: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(len(messages)):
            self._pending.put(index)
        self._lock = threading.Lock()
        self._down: dict[str, str] = {}
        self._timeouts: dict[str, int] = {}

    def next(self) -> int | None:
        try:
            return self._pending.get_nowait()
        except queue.Empty:
            return None

    def drain(self) -> None:
        """Take what is not sent yet out of the queue: the workers stop after their request."""
        while self.next() is not None:
            pass

    def given_up(self, origin: str) -> str | None:
        with self._lock:
            return self._down.get(origin)

    def give_up(self, origin: str, reason: str) -> None:
        with self._lock:
            self._down.setdefault(origin, reason)

    def timed_out(self, origin: str) -> None:
        with self._lock:
            self._timeouts[origin] = count = self._timeouts.get(origin, 0) + 1
            if count >= TIMEOUTS_BEFORE_GIVING_UP:
                self._down.setdefault(origin, f"{origin}: timed out {count} times in this batch")

    def deliveries(self) -> list[Delivery]:
        done = [r for r in self.results if r is not None]
        assert len(done) == len(self.messages), "every message gets a delivery"
        return done


def _outcome(m: Outgoing, status: int, data: bytes) -> Delivery:
    """2xx sent; 408, 429 and 5xx temporary; anything else permanent."""
    if 200 <= status < 300:
        return Delivery(m.id, provider_id=_response_id(data) or m.idempotency_key)
    excerpt = " ".join(data[:_EXCERPT].decode("utf-8", "replace").split())
    error = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    return Delivery(m.id, error=error, temporary=status in (408, 429) or 500 <= status < 600)


def _response_id(data: bytes) -> str | None:
    if not data.lstrip().startswith(b"{"):
        return None
    try:
        reply = json.loads(data)
    except ValueError:
        return None
    found = reply.get("id") if isinstance(reply, dict) else None
    if isinstance(found, str | int) and not isinstance(found, bool) and str(found):
        return str(found)[:_EXCERPT]
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return " ".join(str(exc).split()) or type(exc).__name__
