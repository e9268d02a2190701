"""The webhook channel against a real HTTP server (http.server) on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from seqctl.channels import ChannelSet, send_all
from seqctl.channels.webhook import WebhookChannel
from seqctl.errors import ConfigError
from tests.channels.conftest import free_port, outgoing

SECRET = "whsec-test"


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    signed: bool  # the signature checked out with SECRET
    client: tuple[str, int]


@dataclass
class Endpoint:
    """What the test server saw, and how it behaves: by path."""

    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)
    flaky_failures: int = 1  # /flaky answers 503 this many times, then 200

    def respond(self, path: str) -> tuple[int, bytes]:
        if path == "/flaky":
            with self.lock:
                failing = self.flaky_failures > 0
                self.flaky_failures -= 1
            return (503, b"upstream unavailable") if failing else (200, b"")
        if path == "/bad":
            return 400, b'{"error": "field \\"to\\" is not a phone number"}'
        if path == "/slow":
            self.release.wait(10)  # longer than the client waits; released at teardown
            return 200, b""
        return 200, json.dumps({"id": "prov-" + path.strip("/")}).encode()


def _handler(endpoint: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        disable_nagle_algorithm = True  # headers and body are written apart

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
            signature = self.headers.get("X-Seqctl-Signature", "")
            hit = Hit(
                self.path,
                dict(self.headers.items()),
                json.loads(raw),
                hmac.compare_digest(signature, expected),
                self.client_address,
            )
            with endpoint.lock:
                endpoint.hits.append(hit)
            status, body = endpoint.respond(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            if self.path == "/hang-up":
                self.close_connection = True  # without saying so: the client finds out later

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # connections waiting to be accepted (5 would reset a crowd)


@dataclass
class Server:
    endpoint: Endpoint
    base: str

    def channel(self, path: str = "/ok", **spec: Any) -> WebhookChannel:
        settings = {"kind": "webhook", "url": self.base + path, "secret_env": "HOOK_SECRET"}
        settings.update(spec)
        return WebhookChannel(settings, name="sms", environ={"HOOK_SECRET": SECRET})


@pytest.fixture
def hook() -> Iterator[Server]:
    endpoint = Endpoint()
    server = _Server(("127.0.0.1", 0), _handler(endpoint))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Server(endpoint, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        endpoint.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def sms(number: int, **fields: Any) -> Any:
    return outgoing(number, channel="sms", to="+351910000000", subject=None, **fields)


def test_posts_the_message_json_signed_with_an_idempotency_key(hook: Server) -> None:
    channel = hook.channel(headers={"X-Tenant": "acme"})
    [delivery] = send_all(channel, [sms(1, extra={"template": "intro"})])

    assert delivery.ok and delivery.provider_id == "prov-ok"
    [hit] = hook.endpoint.hits
    assert hit.signed
    assert hit.headers["Idempotency-Key"] == "1:1:hello"
    assert hit.headers["Content-Type"] == "application/json"
    assert hit.headers["X-Tenant"] == "acme"
    assert hit.body == sms(1, extra={"template": "intro"}).as_json()


def test_without_a_secret_there_is_no_signature(hook: Server) -> None:
    channel = WebhookChannel({"kind": "webhook", "url": hook.base + "/ok"}, name="sms", environ={})
    [delivery] = send_all(channel, [sms(1)])

    assert delivery.ok
    assert "X-Seqctl-Signature" not in hook.endpoint.hits[0].headers


def test_a_named_secret_missing_from_the_environment_is_a_config_error() -> None:
    spec = {"kind": "webhook", "url": "http://127.0.0.1:1/x", "secret_env": "HOOK_SECRET"}
    with pytest.raises(ConfigError, match="HOOK_SECRET"):
        WebhookChannel(spec, name="sms", environ={})


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "webhook", "url": "ftp://127.0.0.1/x"},
        {"kind": "webhook", "url": "http://127.0.0.1/x", "headers": {"Idempotency-Key": "k"}},
        {"kind": "webhook", "url": "http://127.0.0.1/x", "headers": {"X-A": "a\r\nX-B: b"}},
    ],
)
def test_bad_settings_are_config_errors(spec: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="channels.sms"):
        WebhookChannel(spec, name="sms", environ={})


def test_many_messages_keep_their_order_over_a_few_kept_alive_connections(hook: Server) -> None:
    messages = [sms(n) for n in range(1, 101)]
    deliveries = send_all(hook.channel(), messages)

    assert [d.message_id for d in deliveries] == list(range(1, 101))
    assert all(d.ok for d in deliveries)
    assert sorted(h.body["id"] for h in hook.endpoint.hits) == list(range(1, 101))
    assert all(h.signed for h in hook.endpoint.hits)
    connections = {h.client for h in hook.endpoint.hits}
    assert 1 <= len(connections) <= 16  # the default `connections`


def test_a_kept_alive_connection_closed_by_the_server_is_replaced(hook: Server) -> None:
    channel = hook.channel("/hang-up", connections=1)
    deliveries = send_all(channel, [sms(n) for n in range(1, 6)])

    assert all(d.ok for d in deliveries)
    assert [h.body["id"] for h in hook.endpoint.hits] == [1, 2, 3, 4, 5]
    assert len({h.client for h in hook.endpoint.hits}) == 5


def test_a_503_is_temporary_and_the_retry_is_sent(hook: Server) -> None:
    channel = hook.channel("/flaky")
    [first] = send_all(channel, [sms(1)])
    [again] = send_all(channel, [sms(1)])

    assert first.temporary and first.error == "HTTP 503: upstream unavailable"
    assert again.ok and again.provider_id == "1:1:hello"  # no id in the reply: the key
    keys = [h.headers["Idempotency-Key"] for h in hook.endpoint.hits]
    assert keys == ["1:1:hello", "1:1:hello"]


def test_a_400_is_permanent_with_the_status_and_the_reply(hook: Server) -> None:
    [delivery] = send_all(hook.channel("/bad"), [sms(1)])

    assert not delivery.ok and delivery.temporary is False
    assert delivery.error == 'HTTP 400: {"error": "field \\"to\\" is not a phone number"}'


def test_a_timeout_is_temporary(hook: Server) -> None:
    [delivery] = send_all(hook.channel("/slow", timeout=0.5), [sms(1)])

    assert not delivery.ok and delivery.temporary
    assert delivery.error is not None and "timed out" in delivery.error


def test_a_server_that_is_down_gives_temporary_failures_in_order() -> None:
    spec = {"kind": "webhook", "url": f"http://127.0.0.1:{free_port()}/x", "timeout": 2}
    deliveries = send_all(
        WebhookChannel(spec, name="sms", environ={}), [sms(n) for n in range(1, 9)]
    )

    assert [d.message_id for d in deliveries] == list(range(1, 9))
    assert all(not d.ok and d.temporary for d in deliveries)
    assert all("cannot connect" in str(d.error) for d in deliveries)


def test_a_webhook_step_with_its_own_url_is_posted_there(hook: Server) -> None:
    step = outgoing(1, channel="webhook", to=hook.base + "/crm", subject=None)
    [delivery] = send_all(hook.channel("/ok"), [step])

    assert delivery.ok and delivery.provider_id == "prov-crm"
    assert [h.path for h in hook.endpoint.hits] == ["/crm"]


def test_channel_set_builds_a_webhook_channel(tmp_path: Path) -> None:
    config = {"sms": {"kind": "webhook", "url": "http://127.0.0.1:8099/sms"}}
    channels = ChannelSet(config, tmp_path / "outbox.jsonl")

    assert isinstance(channels.for_type("sms"), WebhookChannel)
    assert send_all(channels.for_type("sms"), []) == []
