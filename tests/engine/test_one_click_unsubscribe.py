"""One-click unsubscribe (RFC 8058): a mail sent over SMTP, its link POSTed to `events serve`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from seqctl.channels.smtp import SmtpChannel
from seqctl.engine.incoming import receiver
from seqctl.engine.incoming.unsubscribe import masked
from seqctl.engine.messages.tracking import token, unsubscribe_token
from seqctl.errors import ConfigError
from seqctl.timeutil import parse_instant
from tests.channels.test_smtp import Mailbox, Server, _serve
from tests.cli.test_tick_every import lines_until
from tests.conftest import Launch, Run
from tests.playbooks import auto_playbook

SECRET = "one-click secret"
NEWS = auto_playbook(
    "news",
    """
  - id: hello
    type: email
    subject: Hello
    body: Hi
  - id: again
    type: email
    wait: 2 days
    subject: Again
    body: Hi again
""",
    settings="sender: {name: Ana, email: ana@acme.test}\n",
)


@pytest.fixture
def smtp() -> Iterator[Server]:
    yield from _serve(Mailbox())


@pytest.fixture
def serve(project: Path) -> Iterator[str]:
    """A real `seqctl events serve` on a free port of 127.0.0.1; its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    env["SEQCTL_EVENTS_SECRET"] = SECRET
    env["SEQCTL_NOW"] = "2026-11-24T10:00:00Z"
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqctl", "events", "serve", "--port", "0"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        (first,) = lines_until(proc, 1)
        found = re.search(r"http://127\.0\.0\.1:[0-9]+", first)
        assert found, first + (proc.stderr.read() if proc.stderr else "")
        yield found.group()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        proc.kill()


def request(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if data is not None else {}
    try:
        with opener.open(
            urllib.request.Request(url, data=data, method=method, headers=headers), timeout=10
        ) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def test_the_list_unsubscribe_link_unsubscribes_on_post_only(
    launch: Launch,
    write: Callable[[str, str], Path],
    smtp: Server,
    serve: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEQCTL_EVENTS_SECRET", SECRET)
    write(
        "seqctl.yaml",
        f"channels:\n  email: {{kind: smtp, host: 127.0.0.1, port: {smtp.port}, security: none,"
        f" unsubscribe_url: '{serve}/u/{{token}}'}}\n",
    )
    run: Run = launch({"news": NEWS}, "key,email\nann,ann@example.com\nann-web,ANN@example.com\n")
    run("--now=2026-11-23T14:00:00Z", "enroll", "news", "-c", "ann")
    assert run("--now=2026-11-23T14:00:00Z", "tick", "--json").json["sent"] == 1
    [mail] = smtp.mailbox.received
    [message] = run("messages", "--json").json
    link = mail.message["List-Unsubscribe"].strip("<>")
    assert link == f"{serve}/u/{unsubscribe_token(message['id'], SECRET.encode())}"
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # A GET (a mail scanner following the link) shows a form and changes nothing.
    status, page = request(link)
    assert status == 200
    assert '<form method="post">' in page and "a***@example.com" in page
    assert "ann@example.com" not in page
    assert run("suppressions", "--json").json == []

    # Someone guessing: a tracking token of the same message, or a changed one, is refused.
    assert request(f"{serve}/u/{token(message['id'], SECRET.encode())}", "POST", b"")[0] == 404
    assert request(link[:-2] + "AA", "POST", b"List-Unsubscribe=One-Click")[0] == 404
    assert run("suppressions", "--json").json == []

    status, page = request(link, "POST", b"List-Unsubscribe=One-Click")
    assert status == 200 and "You are unsubscribed" in page
    [entry] = run("suppressions", "--json").json
    assert (entry["value"], entry["reason"], entry["at"]) == (
        "ann@example.com",
        "unsubscribed (email)",
        "2026-11-24T10:00:00Z",
    )
    [enrollment] = run("enrollments", "news", "--json").json
    assert (enrollment["state"], enrollment["reason"]) == ("exited", "unsubscribed")
    # The address, not the key: the same person under another key is not enrolled.
    refused = run("--now=2026-11-25T10:00:00Z", "enroll", "news", "-c", "ann-web", "--json")
    assert refused.json["refused"] == [
        {"contact": "ann-web", "reason": "suppressed: ann@example.com (unsubscribed (email))"}
    ]


def test_a_token_in_the_link_needs_the_signing_key() -> None:
    spec = {"host": "127.0.0.1", "unsubscribe_url": "https://acme.test/u/{token}"}
    with pytest.raises(ConfigError, match="SEQCTL_EVENTS_SECRET"):
        SmtpChannel(spec, name="email")


def test_the_receiver_in_process_answers_pages_and_counts_a_repeat_once(
    launch: Launch, project: Path
) -> None:
    """The same routes, served in this process: forged, unknown and repeated requests."""
    sms = auto_playbook("texts", "  - id: ping\n    type: sms\n    body: Hi\n")
    run = launch({"texts": sms}, "key,phone\nbo,+55 11 98765-4321\n")
    run("--now=2026-11-23T14:00:00Z", "enroll", "texts", "-c", "bo")
    run("--now=2026-11-23T14:00:00Z", "tick")
    [message] = run("messages", "--json").json
    secret = b"in-process key"
    httpd = receiver.make_server(
        project / "seqctl.db",
        port=0,
        secret=b"events",
        tracking_secret=secret,
        now=lambda: parse_instant("2026-11-24T10:00:00Z"),
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = httpd.server_address[:2]
        base = f"http://{host!s}:{port}/u/"
        link = base + unsubscribe_token(message["id"], secret)
        status, page = request(link)
        assert status == 200 and "***4321" in page
        assert request(base + "not-a-token")[0] == 404
        assert request(base + unsubscribe_token(999, secret), "POST", b"")[0] == 404
        assert request(link, "POST", b"List-Unsubscribe=One-Click")[0] == 200
        assert request(link, "POST", b"List-Unsubscribe=One-Click")[0] == 200  # a retry
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
    [entry] = run("suppressions", "--json").json
    assert (entry["value"], entry["kind"]) == ("+5511987654321", "phone")
    timeline = run("timeline", "bo", "--json").json
    assert [row["kind"] for row in timeline].count("unsubscribe") == 1
    assert (masked(None), masked("ana@x.test"), masked("123")) == (
        "this address",
        "a***@x.test",
        "***",
    )
