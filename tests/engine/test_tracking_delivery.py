"""HTML mail sent with tracking: a pixel and links through the receiver; the original is kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from seqctl.engine.messages.tracking import links, read_token
from tests.conftest import Launch, Run
from tests.engine.outbox import outbox
from tests.playbooks import auto_playbook

PLAYBOOK = auto_playbook(
    "tracked",
    """
  - type: email
    subject: Hi
    body: "See https://acme.test/offer"
    html: '<p>See <a href="https://acme.test/offer">the offer</a>.</p>'
""",
)


def test_tracked_html(
    launch: Launch,
    write: Callable[[str, str], Path],
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACK_KEY", "k3y")
    write("seqctl.yaml", "tracking: {base_url: 'https://t.acme.test/', secret_env: TRACK_KEY}\n")
    run = launch({"tracked": PLAYBOOK}, "key,email\nann,ann@example.com\n")
    run("--now=2026-11-23T08:00:00Z", "enroll", "tracked", "-c", "ann")
    assert run("--now=2026-11-23T08:00:00Z", "tick", "--json").json["sent"] == 1
    [mail] = outbox(project)
    html = mail["html"]
    assert 'href="https://t.acme.test/t/c/' in html and "acme.test/offer" not in html
    pixel = html.split('src="https://t.acme.test/t/o/')[1].split(".gif")[0]
    assert read_token(pixel, b"k3y") == mail["id"]
    [message] = run("messages", "--json").json
    assert message["status"] == "sent"
    assert links('<p>See <a href="https://acme.test/offer">the offer</a>.</p>') == [
        "https://acme.test/offer"
    ]


def test_tracking_without_its_key_is_a_config_error(
    run: Run, write: Callable[[str, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACK_KEY", raising=False)
    write("seqctl.yaml", "tracking: {base_url: 'https://t.acme.test', secret_env: TRACK_KEY}\n")
    result = run("tick")
    assert result.exit_code == 2
    assert "TRACK_KEY" in result.stderr
