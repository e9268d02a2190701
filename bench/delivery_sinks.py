"""Local servers for the delivery benchmark: SMTP (aiosmtpd) and HTTP on 127.0.0.1 only.

Both accept everything, do as little as they can and count what they saw. They run in a process
of their own (`Sinks` starts it), so a measured client never shares its interpreter lock with
the server it talks to, as with a real mail server or webhook endpoint.

    python bench/delivery_sinks.py [LATENCY_MS]   # prints {"smtp_port": .., "http_port": ..};
                                                  # stops when its stdin closes

LATENCY_MS (default 0) delays each reply a message waits for (SMTP: MAIL, RCPT and the end of
DATA; HTTP: the POST), as a network round trip would: what reusing connections and sending
concurrently are for.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"
COUNTERS = ("smtp_messages", "smtp_connections", "http_requests", "http_connections")
START_TIMEOUT = 15.0


class Counts:
    """What both servers saw, under one lock (the HTTP server has a thread per connection)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(COUNTERS, 0)

    def add(self, name: str) -> None:
        with self._lock:
            self._values[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


def _smtp_server(counts: Counts, latency: float) -> Any:
    """An aiosmtpd controller on a free port that counts sessions and accepted messages."""
    from aiosmtpd.controller import Controller  # only the sink process needs aiosmtpd

    class Handler:
        async def handle_MAIL(
            self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
        ) -> str:
            await _wait(latency)
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            return "250 OK"

        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
        ) -> str:
            await _wait(latency)
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            await _wait(latency)
            counts.add("smtp_messages")
            return "250 OK"

    class CountingController(Controller):
        def factory(self) -> Any:
            counts.add("smtp_connections")  # once per connection (the readiness probe too)
            return super().factory()

    controller = CountingController(
        Handler(), hostname=HOST, port=_free_port(), server_hostname="sink.localhost"
    )
    controller.start()
    return controller


async def _wait(latency: float) -> None:
    if latency:
        await asyncio.sleep(latency)


def _http_server(counts: Counts, latency: float) -> ThreadingHTTPServer:
    """A keep-alive HTTP/1.1 server that reads each POST body and answers 200, empty."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        disable_nagle_algorithm = True
        counted = False  # this connection has been counted

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if latency:
                time.sleep(latency)
            if not self.counted:
                self.counted = True
                counts.add("http_connections")
            counts.add("http_requests")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            body = json.dumps(counts.snapshot()).encode()
            self.send_response(200 if self.path == "/stats" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # one line a request would cost more than the request

    server = _Server((HOST, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http-sink", daemon=True).start()
    return server


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # connections waiting to be accepted (5 would reset a crowd)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def serve(latency: float) -> None:
    """Run both servers, say their ports on stdout, stop when stdin closes."""
    counts = Counts()
    smtp = _smtp_server(counts, latency)
    web = _http_server(counts, latency)
    sys.stdout.write(json.dumps({"smtp_port": smtp.port, "http_port": web.server_port}) + "\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()
    finally:
        web.shutdown()
        smtp.stop()


class Sinks:
    """The sink process seen from the benchmark: its ports and its counters."""

    def __init__(self, process: subprocess.Popen[str], smtp_port: int, http_port: int) -> None:
        self.process = process
        self.smtp_port = smtp_port
        self.http_port = http_port

    def stats(self) -> dict[str, int]:
        """The counters now (a GET on a connection of its own, not counted)."""
        connection = http.client.HTTPConnection(HOST, self.http_port, timeout=10)
        try:
            connection.request("GET", "/stats")
            data: dict[str, int] = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        return data


@contextmanager
def running_sinks(latency_ms: float = 0.0) -> Iterator[Sinks]:
    """Start the sink process and stop it afterwards (by closing its stdin)."""
    process = subprocess.Popen(
        [sys.executable, __file__, str(latency_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        timer = threading.Timer(START_TIMEOUT, process.kill)  # a sink that never says its ports
        timer.start()
        try:
            ports = json.loads(process.stdout.readline() or "null")
        finally:
            timer.cancel()
        if not isinstance(ports, dict):
            raise RuntimeError(f"the sink process did not start (exit code {process.poll()})")
        yield Sinks(process, int(ports["smtp_port"]), int(ports["http_port"]))
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    serve(float(sys.argv[1]) / 1000 if len(sys.argv) > 1 else 0.0)
