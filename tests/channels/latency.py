"""Servers on 127.0.0.1 that behave like real providers far away: each reply comes after a
delay, and what they receive is kept before they reply (a client that dies in between leaves
the message delivered without knowing it). They can also refuse, hang, drop the connection
and recover: `mode` is read at every connection or request.

SMTP is aiosmtpd; HTTP is http.server, one thread per connection.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.channels.conftest import free_port


@dataclass
class Provider:
    """What one server received and how it behaves now."""

    latency: float = 0.0  # seconds before each reply a message waits for
    # ok | hang (no reply) | SMTP: hang-data (no reply to the end of DATA: the message is
    # kept) | HTTP: drop (closed, no reply) | busy (429)
    mode: str = "ok"
    retry_after: int | None = None  # with busy: the Retry-After of the 429
    pipelining: bool = True  # SMTP: offer PIPELINING in the EHLO reply
    # HTTP: a mode of its own for the POSTs whose JSON `to` is this address (refuse: a 400)
    by_recipient: dict[str, str] = field(default_factory=dict)
    received: Counter[str] = field(default_factory=Counter)  # Message-ID or Idempotency-Key
    signatures: list[dict[str, str]] = field(default_factory=list)  # HTTP headers, by request
    pipelined: int = 0  # SMTP: MAIL commands whose RCPT and DATA had arrived with them
    requests: int = 0  # HTTP: POSTs, whatever the answer
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)  # ends a hang

    def keep(self, key: str) -> None:
        with self.lock:
            self.received[key] += 1

    @property
    def repeats(self) -> int:
        """Deliveries beyond the first of each message."""
        return sum(n - 1 for n in self.received.values())


class _Handler:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.provider.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        buffered = bytes(getattr(server._reader, "_buffer", b""))
        if b"RCPT TO" in buffered.upper() and b"DATA" in buffered.upper():
            with self.provider.lock:
                self.provider.pipelined += 1
        await self._wait("mail")
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await self._wait("rcpt")
        if address.startswith("gone@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content.decode("utf-8", "replace")
        found = [line for line in content.splitlines() if line.lower().startswith("message-id:")]
        self.provider.keep(found[0].split(":", 1)[1].strip() if found else "?")
        await self._wait("data")
        return "250 2.0.0 Ok: queued"

    async def _wait(self, stage: str) -> None:
        if self.provider.mode == "hang" or self.provider.mode == f"hang-{stage}":
            await asyncio.get_running_loop().run_in_executor(None, self.provider.release.wait, 30)
        if self.provider.latency:
            await asyncio.sleep(self.provider.latency)


class _Controller(Controller):
    def __init__(self, provider: Provider, port: int, **tls: Any) -> None:
        super().__init__(_Handler(provider), hostname="127.0.0.1", port=port, **tls)
        self.provider = provider

    def factory(self) -> SMTP:
        with self.provider.lock:
            self.provider.connections += 1
        return SMTP(self.handler, **self.SMTP_kwargs)


@contextmanager
def smtp_server(provider: Provider, **tls: Any) -> Iterator[int]:
    """An SMTP server for `provider`; yields its port. `tls_context=` offers STARTTLS,
    `ssl_context=` makes it TLS from the start."""
    port = free_port()
    controller = _Controller(provider, port, **tls)
    controller.start()
    provider.connections = 0  # the controller's own probe when it started
    try:
        yield port
    finally:
        provider.release.set()
        controller.stop()


def _http_handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with provider.lock:
                provider.connections += 1

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            with provider.lock:
                provider.requests += 1
            mode = provider.mode
            if provider.by_recipient:
                mode = provider.by_recipient.get(json.loads(raw).get("to"), mode)
            if mode == "drop":
                self.close_connection = True
                return
            if mode == "busy":
                self._reply(429, b"slow down", provider.retry_after)
                return
            if mode == "refuse":
                self._reply(400, b"no such recipient")
                return
            provider.keep(self.headers["Idempotency-Key"])
            with provider.lock:
                provider.signatures.append({**dict(self.headers.items()), "body": raw.decode()})
            if mode == "hang":
                provider.release.wait(30)
            if provider.latency:
                time.sleep(provider.latency)
            self._reply(200, json.dumps({"id": "p-" + self.headers["Idempotency-Key"]}).encode())

        def _reply(self, status: int, body: bytes, retry_after: int | None = None) -> None:
            self.send_response(status)
            if retry_after is not None:
                self.send_header("Retry-After", str(retry_after))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # connections waiting to be accepted (5 would reset a crowd)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request is what these tests do


@contextmanager
def http_server(
    provider: Provider, tls: ssl.SSLContext | None = None, port: int = 0
) -> Iterator[int]:
    """A keep-alive HTTP server for `provider` (HTTPS with `tls`); yields its port."""
    server = _QuietServer(("127.0.0.1", port), _http_handler(provider))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        provider.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
