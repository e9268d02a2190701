"""A webhook's headers: data cannot add one, and credentials come from the environment only.

The server is a plain socket server on 127.0.0.1 that keeps the raw bytes of each request, so
the tests see the header lines exactly as they went over the wire.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqctl.channels import send_all
from seqctl.channels.headers import header_from_data
from seqctl.channels.webhook import WebhookChannel
from seqctl.errors import ConfigError
from tests.channels.conftest import outgoing

BASE_HEADERS = sorted(
    ["Host", "Accept-Encoding", "Content-Length", "Content-Type", "Idempotency-Key", "User-Agent"]
)


@dataclass
class Request:
    target: str
    names: list[str]  # header names as they arrived, sorted
    headers: dict[str, str]
    body: bytes


@dataclass
class Wire:
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(wire: Wire) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = self.rfile.readline(65536)
                    if not line:
                        return
                    head += line
                request = _parse(head, self.rfile)
                with wire.lock:
                    wire.requests.append(request)
                if request.target.startswith("/echo"):  # a server that tells what it got
                    given = request.headers["Authorization"]
                    echoed = given.split()[-1] if request.target == "/echo-token" else given
                    body = f"bad credentials: {echoed}".encode()
                    self.wfile.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: ")
                    self.wfile.write(b"%d\r\n\r\n%s" % (len(body), body))
                    continue
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    return Handler


def _parse(head: bytes, rfile: Any) -> Request:
    """Every header line of a request, checked: one line each, printable ASCII, name: value."""
    lines = head[:-4].split(b"\r\n")
    target = lines[0].split(b" ")[1].decode("ascii")
    names, headers = [], {}
    for line in lines[1:]:
        assert all(32 <= b < 127 or b == 9 for b in line), f"only printable ASCII: {line!r}"
        assert line[:1] not in (b" ", b"\t"), "no continuation lines"
        name, colon, value = line.decode("ascii").partition(":")
        assert colon and name.strip() == name
        names.append(name)
        headers[name] = value.strip()
    body = rfile.read(int(headers["Content-Length"]))
    return Request(target, sorted(names), headers, body)


@dataclass
class Server:
    wire: Wire
    base: str
    plain: WebhookChannel | None = None  # made once: a channel loads the TLS certificates

    def post(self, spec: dict[str, Any] | None = None, **fields: Any) -> Request:
        settings = {"kind": "webhook", "url": self.base + "/hook", **(spec or {})}
        environ = fields.pop("environ", {})
        if spec is None:
            self.plain = self.plain or WebhookChannel(settings, name="sms", environ={})
            channel = self.plain
        else:
            channel = WebhookChannel(settings, name="sms", environ=environ)
        self.wire.requests.clear()
        message = outgoing(**{"channel": "sms", "subject": None, **fields})
        [delivery] = send_all(channel, [message])
        assert delivery.ok, delivery.error
        [request] = self.wire.requests
        assert json.loads(request.body) == message.as_json()  # the body, intact
        return request


@pytest.fixture(scope="module")
def hook() -> Iterator[Server]:
    wire = Wire()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _handler(wire))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Server(wire, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


ATTACKS = [
    "\r\n", "\r", "\n", "\x00", "\x0b", "\x85", "\u2028", "X-Evil: 1", "\r\n\r\nGET / HTTP/1.1",
    "%", "%0D%0A", " ", "é", "🎉", "=?utf-8?q?a=0D=0AX-Evil:_1?=",
]  # fmt: skip
hostile = st.lists(st.sampled_from(ATTACKS) | st.text(max_size=6), max_size=10).map("".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=hostile, subject=hostile, contact=hostile)
def test_hostile_data_never_changes_the_request_headers(
    hook: Server, key: str, subject: str, contact: str
) -> None:
    request = hook.post(idempotency_key=key, subject=subject, contact=contact, body=subject)

    assert request.names == BASE_HEADERS
    sent = request.headers["Idempotency-Key"]
    assert sent == header_from_data(key)
    assert sent == key or unquote(sent) == key  # percent-encoded when it is not plain


def test_plain_idempotency_keys_go_as_they_are_and_others_stay_distinct() -> None:
    assert header_from_data("12:3:follow-up@2026-11-23T12:00:00Z") == (
        "12:3:follow-up@2026-11-23T12:00:00Z"
    )
    assert header_from_data("a b") == "a%20b"
    assert header_from_data("a%20b") == "a%2520b"  # not the same key as "a b"
    assert header_from_data("k\r\nX-Evil: 1") == "k%0D%0AX-Evil:%201"


def test_a_step_url_from_data_is_percent_encoded_in_the_request_line(hook: Server) -> None:
    url = hook.base + "/crm/Zoë Ünal?q=é"
    request = hook.post(channel="webhook", to=url.replace(" ", "%20"))

    assert request.target == "/crm/Zo%C3%AB%20%C3%9Cnal?q=%C3%A9"
    assert request.names == BASE_HEADERS


@pytest.mark.parametrize(
    ("url", "host"), [("http://bücher.test/x", "xn--bcher-kva.test"), ("http://h.test/", "h.test")]
)
def test_a_host_name_goes_in_ascii(url: str, host: str) -> None:
    spec = {"kind": "webhook", "url": url}
    assert WebhookChannel(spec, name="sms", environ={}).endpoint.host == host


def test_a_host_name_that_cannot_be_encoded_is_refused() -> None:
    spec = {"kind": "webhook", "url": "http://bü" + "x" * 70 + ".test/"}
    with pytest.raises(ConfigError, match="bad host name"):
        WebhookChannel(spec, name="sms", environ={})


def test_a_step_url_with_credentials_fails_for_good_without_showing_them() -> None:
    spec = {"kind": "webhook", "url": "http://127.0.0.1:9/hook"}
    channel = WebhookChannel(spec, name="webhook", environ={})
    step = outgoing(channel="webhook", to="https://ana:hunter2@crm.test/x", subject=None)
    [delivery] = send_all(channel, [step])

    assert not delivery.ok and delivery.temporary is False
    assert delivery.error is not None and "hunter2" not in delivery.error
    assert "headers_env" in delivery.error


def test_a_credential_header_comes_from_the_environment(hook: Server) -> None:
    spec = {"headers": {"X-Tenant": "acme"}, "headers_env": {"Authorization": "HOOK_AUTH"}}
    request = hook.post(spec, environ={"HOOK_AUTH": "Bearer s3cr3t-token"})

    assert request.headers["Authorization"] == "Bearer s3cr3t-token"
    assert request.headers["X-Tenant"] == "acme"
    assert request.names == sorted([*BASE_HEADERS, "Authorization", "X-Tenant"])


@pytest.mark.parametrize("path", ["/echo", "/echo-token"])
def test_a_secret_the_server_echoes_back_is_hidden_from_the_error(hook: Server, path: str) -> None:
    spec = {"kind": "webhook", "url": hook.base + path, "headers_env": {"Authorization": "A"}}
    channel = WebhookChannel(spec, name="sms", environ={"A": "Bearer s3cr3t-token-42"})
    [delivery] = send_all(channel, [outgoing(channel="sms", subject=None)])

    assert not delivery.ok and delivery.temporary is False
    assert delivery.error == "HTTP 401: bad credentials: ***"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer abc"},
        {"X-Api-Key": "sk_live_4242"},
        {"proxy-authorization": "Basic eDp5"},
    ],
)
def test_a_literal_credential_header_is_refused_naming_headers_env(
    headers: dict[str, str],
) -> None:
    spec = {"kind": "webhook", "url": "http://127.0.0.1:9/x", "headers": headers}
    with pytest.raises(ConfigError, match="headers_env") as raised:
        WebhookChannel(spec, name="sms", environ={})

    assert list(headers.values())[0] not in str(raised.value)


def test_credentials_in_the_url_are_refused_without_being_shown() -> None:
    spec = {"kind": "webhook", "url": "https://ana:hunter2@hooks.acme.test/sms"}
    with pytest.raises(ConfigError, match="headers_env") as raised:
        WebhookChannel(spec, name="sms", environ={})

    assert "hunter2" not in str(raised.value) and "ana" not in str(raised.value)
    assert "hooks.acme.test" in str(raised.value)


@pytest.mark.parametrize(
    ("spec", "environ", "expected"),
    [
        ({"headers_env": {"Authorization": "HOOK_AUTH"}}, {}, "HOOK_AUTH is not set"),
        ({"headers_env": {"Authorization": "Bearer abc"}}, {}, "the name is not shown"),
        ({"secret_env": "hunter2"}, {}, "the name is not shown"),
        (
            {"headers_env": {"Authorization": "HOOK_AUTH"}},
            {"HOOK_AUTH": "Bearer abc\r\nX-Evil: 1"},
            "HOOK_AUTH does not hold one line of printable ASCII",
        ),
        (
            {"headers": {"X-Tenant": "a"}, "headers_env": {"x-tenant": "T"}},
            {"T": "b"},
            "set twice",
        ),
        ({"headers": {"X-Tenant": "acmé"}}, {}, "one line of printable ASCII"),
        ({"headers": {"Authorization: Bearer abc": "x"}}, {}, "a header name has only"),
        ({"headers_env": {"Content-Length": "N"}}, {"N": "1"}, "set by seqctl"),
    ],
)
def test_bad_header_settings_say_what_is_wrong_without_a_secret(
    spec: dict[str, Any], environ: dict[str, str], expected: str
) -> None:
    settings = {"kind": "webhook", "url": "http://127.0.0.1:9/x", **spec}
    with pytest.raises(ConfigError, match="channels.sms") as raised:
        WebhookChannel(settings, name="sms", environ=environ)

    message = str(raised.value)
    assert expected in message
    assert "abc" not in message and "hunter2" not in message and "Evil" not in message
