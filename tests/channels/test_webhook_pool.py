"""The webhook transport: Standard Webhooks signatures, Retry-After, timeouts, dropped
connections and the environment's proxy, against real servers on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import time
from typing import Any

import pytest
import trustme

from seqctl.channels import send_all
from seqctl.channels.webhook import WebhookChannel
from seqctl.channels.webhook_pool import retry_after
from seqctl.errors import ConfigError
from tests.channels.conftest import outgoing
from tests.channels.latency import Provider, http_server
from tests.channels.proxy import http_proxy


def sms(number: int) -> Any:
    return outgoing(number, channel="sms", to="+351910000000", subject=None)


def hook(url: str, environ: dict[str, str] | None = None, **spec: Any) -> WebhookChannel:
    settings = {"kind": "webhook", "url": url, **spec}
    return WebhookChannel(settings, name="sms", environ=environ or {})


def verify(secret: str, headers: dict[str, str], body: str) -> bool:
    """A receiver's check, as the README shows it (Standard Webhooks)."""
    key = (
        base64.b64decode(secret.removeprefix("whsec_"))
        if secret.startswith("whsec_")
        else (secret.encode())
    )
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.removeprefix("v1,") for s in headers["webhook-signature"].split()]
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) < 300
    return fresh and any(hmac.compare_digest(expected, s) for s in offered)


@pytest.mark.parametrize(
    "secret", ["plain-shared-secret", "whsec_" + base64.b64encode(b"0123456789abcdef").decode()]
)
def test_signed_as_standard_webhooks_say(secret: str) -> None:
    provider = Provider()
    with http_server(provider) as port:
        channel = hook(f"http://127.0.0.1:{port}/sms", {"S": secret}, secret_env="S")
        [delivery] = send_all(channel, [sms(1)])
        channel.close()
    assert delivery.ok
    [headers] = provider.signatures
    assert headers["webhook-id"] == headers["Idempotency-Key"] == "1:1:hello"
    assert verify(secret, headers, headers.pop("body"))
    assert not verify(secret + "x", {**headers}, "{}")
    expected = hmac.new(secret.encode(), sms(1).json_text().encode(), hashlib.sha256).hexdigest()
    assert headers["X-Seqctl-Signature"] == "sha256=" + expected  # as before, the whole secret


def test_a_whsec_secret_that_is_not_base64_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="base64"):
        hook("http://127.0.0.1:1/x", {"S": "whsec_not*base64"}, secret_env="S")


def test_retry_after_of_a_429_is_kept_and_the_endpoint_left_alone() -> None:
    provider = Provider(mode="busy", retry_after=600)
    with http_server(provider) as port:
        channel = hook(f"http://127.0.0.1:{port}/sms", connections=1)
        deliveries = send_all(channel, [sms(n) for n in range(1, 11)])
        channel.close()
    assert provider.requests == 1  # the nine others were held, not sent
    first, *rest = deliveries
    assert (first.error, first.retry_after, first.held) == ("HTTP 429: slow down", 600, False)
    assert all(d.held and d.retry_after == 600 for d in rest)


def test_retry_after_as_seconds_or_a_date() -> None:
    assert retry_after("120") == 120
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420.0) == 60
    assert retry_after("soon") is None and retry_after(None) is None


def test_a_reply_that_never_comes_is_an_unknown_outcome() -> None:
    provider = Provider(mode="hang")
    with http_server(provider) as port:
        channel = hook(f"http://127.0.0.1:{port}/sms", timeout=0.3, connections=1)
        [delivery] = send_all(channel, [sms(1)])
        provider.release.set()
        channel.close()
    assert delivery.temporary and delivery.unknown == 1
    assert delivery.error == (
        f"http://127.0.0.1:{port}: timed out; outcome unknown, sent again later with the same"
        " Idempotency-Key"
    )


def test_a_connection_closed_without_a_reply_is_tried_once_more() -> None:
    provider = Provider(mode="drop")
    with http_server(provider) as port:
        channel = hook(f"http://127.0.0.1:{port}/sms", connections=1)
        [delivery] = send_all(channel, [sms(1)])
        channel.close()
    assert provider.requests == 2
    assert delivery.temporary and delivery.unknown == 1


def test_http_goes_through_the_proxy_of_the_environment_unless_no_proxy_says() -> None:
    provider = Provider()
    with http_server(provider) as port, http_proxy() as proxy:
        url = f"http://127.0.0.1:{proxy.server_address[1]}"
        channel = hook(f"http://127.0.0.1:{port}/sms", {"HTTP_PROXY": url}, connections=1)
        assert all(d.ok for d in send_all(channel, [sms(1), sms(2)]))
        channel.close()
        assert proxy.seen == [f"POST http://127.0.0.1:{port}/sms HTTP/1.1"]  # kept alive
        bypass = {"http_proxy": url, "NO_PROXY": "example.com,127.0.0.1"}
        channel = hook(f"http://127.0.0.1:{port}/sms", bypass)
        assert all(d.ok for d in send_all(channel, [sms(3)]))
        channel.close()
        assert len(proxy.seen) == 1
    assert len(provider.received) == 3


def test_https_is_tunnelled_through_the_proxy_with_connect() -> None:
    authority = trustme.CA()
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(server_tls)
    provider = Provider()
    with http_server(provider, tls=server_tls) as port, http_proxy() as proxy:
        environ = {"HTTPS_PROXY": f"127.0.0.1:{proxy.server_address[1]}"}
        channel = hook(f"https://localhost:{port}/sms", environ)
        authority.configure_trust(channel.tls)
        [delivery] = send_all(channel, [sms(1)])
        channel.close()
    assert delivery.ok, delivery.error
    assert [line.rsplit(" ", 1)[0] for line in proxy.seen] == [f"CONNECT localhost:{port}"]
    assert list(provider.received) == ["1:1:hello"]


def test_only_http_proxies_are_understood() -> None:
    with pytest.raises(ConfigError, match="only http:// proxies"):
        hook("https://hooks.acme.test/x", {"HTTPS_PROXY": "socks5://127.0.0.1:1080"})
