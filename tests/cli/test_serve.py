"""`seqctl events serve`: a real receiver on 127.0.0.1 against a database made by the CLI."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from seqctl.engine.incoming import receiver
from seqctl.engine.messages.tracking import instrument, links, token
from seqctl.errors import InputError
from seqctl.store import open_store
from seqctl.timeutil import parse_instant
from tests.conftest import Launch, Run
from tests.playbooks import auto_playbook

SECRET = b"events secret"
TRACKING = b"tracking secret"
NOW = parse_instant("2026-11-24T10:00:00Z")
PLAYBOOK = auto_playbook(
    "news",
    """
  - id: hello
    type: email
    subject: Hello
    body: "Hi, see https://acme.test/pricing"
    html: '<html><body><p>Hi {{ contact.first_name | default("there") }}, see
      <a href="https://acme.test/pricing?plan=pro&amp;ref=mail">pricing</a> and
      <a href="https://acme.test/docs">the docs</a>, or
      <a href="mailto:ana@acme.test">write</a>.</p></body></html>'
  - id: nudge
    type: email
    wait: 3 days
    subject: Any news?
    body: Just checking
""",
)


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the test looks at the 302 itself


@dataclass
class Receiver:
    base: str
    message_id: int
    html: str

    def request(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers or {}
        )
        try:
            with opener.open(request, timeout=10) as response:
                return Reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, error.headers, error.read())

    def post(self, body: str | bytes, **headers: str) -> Reply:
        data = body.encode() if isinstance(body, str) else body
        return self.request("POST", "/events", data, headers)

    def tracked(self) -> tuple[str, list[str]]:
        """The pixel and click paths instrument() puts in this message."""
        out = instrument(self.html, message_id=self.message_id, base_url=self.base, secret=TRACKING)
        start = out.index(self.base + "/t/o/")
        pixel = out[start + len(self.base) : out.index('"', start)]
        return pixel, [link[len(self.base) :] for link in links(out)]


@pytest.fixture
def sent(launch: Launch) -> int:
    """A sequence whose first email (HTML with two links) went to ann; its message id."""
    run = launch({"news": PLAYBOOK}, "key,email,first_name\nann,ann@example.com,Ann\n")
    run("--now=2026-11-23T14:00:00Z", "enroll", "news", "-c", "ann")
    assert run("--now=2026-11-23T14:00:00Z", "tick", "--json").json["sent"] == 1
    [message] = run("messages", "--json").json
    return int(message["id"])


@pytest.fixture
def server(sent: int, project: Path) -> Iterator[Receiver]:
    database = project / "seqctl.db"
    httpd = receiver.make_server(
        database, port=0, secret=SECRET, tracking_secret=TRACKING, now=lambda: NOW
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with open_store(database) as store:
            html = store.message_extra(sent)["html"]
        host, port = httpd.server_address[:2]
        yield Receiver(f"http://{host!s}:{port}", sent, html)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def kinds(run: Run) -> list[str]:
    return [row["kind"] for row in run("timeline", "ann", "--json").json]


def enrollment(run: Run) -> tuple[str, str | None]:
    [row] = run("enrollments", "news", "--json").json
    return row["state"], row["reason"]


REPLY = '{"type": "reply", "contact": "ann", "id": "r-1"}'


def test_posting_an_event_needs_the_shared_secret(server: Receiver, run: Run) -> None:
    assert server.post(REPLY).status == 401
    assert server.post(REPLY, Authorization="Bearer wrong").status == 401
    assert server.post(REPLY, Authorization="Basic ZXZlbnRzIHNlY3JldA==").status == 401
    assert server.post(REPLY, **{"X-Seqctl-Secret": "events secre"}).status == 401
    assert enrollment(run) == ("active", None)
    reply = server.post(REPLY, Authorization="Bearer events secret")
    assert reply.status == 200
    assert reply.json == {"recorded": 1, "duplicates": 0, "exited": 1, "paused": 0, "refused": []}
    assert enrollment(run) == ("exited", "replied")
    again = server.post(REPLY, **{"X-Seqctl-Secret": "events secret"})
    assert (again.status, again.json["duplicates"]) == (200, 1)


def test_json_lines_report_bad_lines_and_refuse_unusable_bodies(server: Receiver) -> None:
    auth = {"Authorization": "Bearer events secret"}
    lines = '{"type": "open", "contact": "ann"}\nnot json\n{"type": "reply", "contact": "zed"}\n'
    reply = server.post(lines, **auth)
    assert reply.status == 200
    assert reply.json["recorded"] == 1
    assert [r["row"] for r in reply.json["refused"]] == ["line:2", "line:3"]
    assert reply.json["refused"][1]["reason"] == "unknown contact 'zed'"
    refused = server.post('[{"type": "reply", "contact": "zed"}, {"type": "wave"}]', **auth)
    assert refused.status == 400
    assert [r["row"] for r in refused.json["refused"]] == ["body[0]", "body[1]"]
    assert server.post("not json", **auth).status == 400
    assert server.post("", **auth).json == {"error": "the body holds no events"}
    assert server.post(b"\xff\xfe", **auth).status == 400
    too_big = server.post(b"", **auth, **{"Content-Length": str(receiver.MAX_BODY + 1)})
    assert too_big.status == 413


def test_the_pixel_records_one_open_a_minute(server: Receiver, run: Run) -> None:
    pixel, _ = server.tracked()
    reply = server.request("GET", pixel)
    assert (reply.status, reply.headers["Content-Type"]) == (200, "image/gif")
    assert reply.body == receiver.PIXEL and reply.body.startswith(b"GIF89a")
    assert server.request("GET", pixel).status == 200  # a mail client loading it twice
    assert kinds(run).count("open") == 1
    timeline = run("timeline", "ann", "--json").json
    [opened] = [row for row in timeline if row["kind"] == "open"]
    assert (opened["sequence"], opened["at"]) == ("news", "2026-11-24T10:00:00Z")
    assert enrollment(run) == ("active", None)  # an open does not end the sequence


def test_a_click_redirects_to_the_messages_own_link(server: Receiver, run: Run) -> None:
    _, clicks = server.tracked()
    assert len(clicks) == 2  # the mailto link is left alone
    first = server.request("GET", clicks[0])
    assert first.status == 302
    assert first.headers["Location"] == "https://acme.test/pricing?plan=pro&ref=mail"
    second = server.request("GET", clicks[1])
    assert second.headers["Location"] == "https://acme.test/docs"
    details = [row["detail"] for row in run("timeline", "ann", "--json").json]
    assert "link=https://acme.test/pricing?plan=pro&ref=mail" in details
    assert "link=https://acme.test/docs" in details


def test_forged_tokens_and_unknown_links_record_nothing(server: Receiver, run: Run) -> None:
    message = server.message_id
    before = kinds(run)
    forged = token(message, b"guessed secret")
    missing = token(message + 100, TRACKING)
    for path in (
        f"/t/c/{forged}?n=0",
        f"/t/c/{missing}?n=0",
        f"/t/c/{token(message, TRACKING)}?n=2",
        f"/t/c/{token(message, TRACKING)}?n=-1",
        f"/t/c/{token(message, TRACKING)}?n=one",
        f"/t/c/{token(message, TRACKING)}",
        f"/t/c/{token(message, TRACKING)}?n=0&n=1",
        "/t/c/garbage?n=0",
        "/elsewhere",
    ):
        reply = server.request("GET", path)
        assert reply.status == 404, path
        assert "Location" not in reply.headers
    bad_pixel = server.request("GET", f"/t/o/{forged}.gif")
    assert (bad_pixel.status, bad_pixel.body) == (200, receiver.PIXEL)
    assert kinds(run) == before


def test_serve_reads_its_secrets_from_the_environment(
    run: Run, write: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[receiver.ReceiverSettings] = []

    def until_ctrl_c(self: receiver.EventServer, poll_interval: float = 0.5) -> None:
        seen.append(self.settings)
        raise KeyboardInterrupt

    monkeypatch.setattr(receiver.EventServer, "serve_forever", until_ctrl_c)
    monkeypatch.delenv("SEQCTL_EVENTS_SECRET", raising=False)
    missing = run("events", "serve", "--port", "0")
    assert missing.exit_code == 2
    assert "SEQCTL_EVENTS_SECRET" in missing.stderr

    monkeypatch.setenv("HOOK_SECRET", "from the env")
    result = run("events", "serve", "--port", "0", "--secret-env", "HOOK_SECRET")
    assert result.exit_code == 0
    assert result.stdout.startswith("listening on http://127.0.0.1:")
    assert (seen[-1].secret, seen[-1].tracking_secret) == (b"from the env", b"from the env")

    write("seqctl.yaml", "tracking: {base_url: 'https://t.acme.test', secret_env: TRACK_SECRET}\n")
    without = run("events", "serve", "--port", "0", "--secret-env", "HOOK_SECRET")
    assert (without.exit_code, "TRACK_SECRET" in without.stderr) == (2, True)
    monkeypatch.setenv("TRACK_SECRET", "links")
    assert run("events", "serve", "--port", "0", "--secret-env", "HOOK_SECRET").exit_code == 0
    assert seen[-1].tracking_secret == b"links"


def test_the_receiver_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="shared secret"):
        receiver.make_server(
            tmp_path / "seqctl.db", port=0, secret=None, tracking_secret=None, now=lambda: NOW
        )
