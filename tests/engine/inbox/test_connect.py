"""Reaching the inbox: TLS, STARTTLS, credentials from the environment, and what a failure does
(the sync says why, the tick still sends)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from seqctl.engine.inbox.settings import Security, inbox_settings
from seqctl.errors import ConfigError
from tests.channels.conftest import free_port
from tests.conftest import Launch, Run
from tests.engine.inbox import mails
from tests.playbooks import HELLO, auto_playbook

Write = Callable[[str, str], Path]


def inbox_yaml(port: int, **settings: Any) -> str:
    spec = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username_env": "IMAP_USER",
        "password_env": "IMAP_PASSWORD",
        **settings,
    }
    return f"inboxes:\n  ana: {json.dumps(spec)}\n"


def reply_from_stranger(imap: Any) -> None:
    imap.deliver(
        mails.stranger(
            sender="<x@elsewhere.example>", date="Tue, 24 Nov 2026 09:00:00 +0000", mid="s-1"
        )  # fmt: skip
    )


@pytest.mark.parametrize(("security", "port"), [("tls", "tls_port"), ("starttls", "port")])
def test_tls_and_starttls(
    run: Run,
    write: Write,
    imap: Any,
    monkeypatch: pytest.MonkeyPatch,
    security: str,
    port: str,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(imap.server.cert))  # trust the test's own CA
    write("seqctl.yaml", inbox_yaml(getattr(imap.server, port), security=security))
    first = run("--now=2026-11-24T12:00:00Z", "inbox", "sync", "--json")
    assert (first.exit_code, first.json["read"]) == (0, 0)  # nobody enrolled: nothing to read
    reply_from_stranger(imap)

    result = run("--now=2026-11-24T12:00:00Z", "inbox", "sync", "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert (result.json["read"], result.json["unmatched"]) == (1, 1)


def test_a_certificate_that_is_not_trusted_is_refused(run: Run, write: Write, imap: Any) -> None:
    write("seqctl.yaml", inbox_yaml(imap.server.tls_port, security="tls"))

    result = run("--now=2026-11-24T12:00:00Z", "inbox", "sync")

    assert result.exit_code == 1
    assert f"inbox ana: cannot connect to 127.0.0.1:{imap.server.tls_port}: TLS certificate" in (
        result.stderr
    )
    assert "not trusted" in result.stderr


def test_a_wrong_password_is_said_and_never_shown(
    run: Run, write: Write, imap: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAP_PASSWORD", "not-the-password-9f3c")
    write("seqctl.yaml", inbox_yaml(imap.port))

    result = run("--now=2026-11-24T12:00:00Z", "inbox", "sync", "--json")

    assert result.exit_code == 1
    [error] = result.json["errors"]
    assert error["inbox"] == "ana"
    assert error["error"].startswith(f"127.0.0.1:{imap.port} refused the login of {imap.user}: ")
    assert "not-the-password-9f3c" not in result.stdout + result.stderr
    [folder] = run("inbox", "status", "--json").json
    assert folder["error"] == error["error"]


def test_a_missing_variable_names_the_variable(
    run: Run, write: Write, imap: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMAP_PASSWORD")
    write("seqctl.yaml", inbox_yaml(imap.port))

    result = run("inbox", "sync")

    # The configuration's fault, not the server's: exit 2, as for any setting a person must fix.
    assert result.exit_code == 2
    assert "inbox ana: environment variable IMAP_PASSWORD is not set (its password_env)" in (
        result.stderr
    )
    # The tick still runs its sequences, says the same and exits 2.
    ticked = run("tick")
    assert ticked.exit_code == 2
    assert "inbox ana: environment variable IMAP_PASSWORD is not set" in ticked.stderr
    # status says the inbox failed, not that it was read; one sequence's status has no inboxes.
    status = run("--now=2026-11-24T12:00:00Z", "status").stdout
    assert "inbox ana/INBOX failed at " in status and "IMAP_PASSWORD is not set" in status
    write("playbooks/news.yaml", auto_playbook("news", HELLO))
    assert run("publish").exit_code == 0
    assert "inbox" not in run("status", "news").stdout


def test_status_leaves_out_inboxes_no_longer_configured(
    run: Run, write: Write, imap: Any, project: Path
) -> None:
    write("seqctl.yaml", inbox_yaml(imap.port))
    assert run("--now=2026-11-24T12:00:00Z", "inbox", "sync").exit_code == 0
    assert "inbox ana/INBOX read at 2026-11-24T12:00:00Z: 0 messages" in run("status").stdout

    write("seqctl.yaml", "channels: {}\n")  # the inbox was taken out of seqctl.yaml

    assert "inbox ana" not in run("status").stdout
    (project / "seqctl.yaml").unlink()  # no configuration at all (--db from elsewhere): all
    assert "inbox ana/INBOX read at" in run("status").stdout
    assert [f["inbox"] for f in run("inbox", "status", "--json").json] == ["ana"]  # all known


def test_without_inboxes_the_sync_says_how_to_add_one(run: Run) -> None:
    result = run("inbox", "sync")

    assert result.exit_code == 2
    assert "no inboxes in seqctl.yaml" in result.stderr


def test_an_inbox_that_fails_does_not_stop_the_tick_from_sending(
    launch: Launch, write: Write, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMAP_USER", "ana")
    monkeypatch.setenv("IMAP_PASSWORD", "secret")
    closed = free_port()  # nothing listens there
    write("seqctl.yaml", inbox_yaml(closed))
    run = launch({"hello": auto_playbook("hello", HELLO)}, "key,email\nann,ann@example.com\n")
    run("--now=2026-11-23T09:00:00Z", "enroll", "hello", "-c", "ann")

    result = run("--now=2026-11-23T09:00:00Z", "tick")

    assert result.exit_code == 1
    assert f"inbox ana: cannot connect to 127.0.0.1:{closed}: " in result.stderr
    assert "handled 1 due: 1 sent" in result.stdout
    lines = (project / "outbox.jsonl").read_text().splitlines()
    assert [json.loads(line)["contact"] for line in lines] == ["ann"]
    doctor = {c["check"]: c for c in run("doctor", "hello", "-c", "ann", "--json").json}
    assert not doctor["mailbox"]["ok"]
    assert doctor["mailbox"]["detail"].startswith("reading ana/INBOX failed at 2026-11-23T09:00")


def test_a_dry_run_tick_does_not_read_the_inbox(
    launch: Launch, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("seqctl.yaml", inbox_yaml(free_port()))
    run = launch({"hello": auto_playbook("hello", HELLO)}, "key,email\nann,ann@example.com\n")

    result = run("--now=2026-11-23T09:00:00Z", "tick", "--dry-run", "--json")

    assert result.exit_code == 0 and "inbox" not in result.json


# ----------------------------------------------------------------------------- settings


def test_settings_defaults_and_the_served_senders() -> None:
    config = {
        "channels": {
            "email": {
                "kind": "smtp",
                "host": "mx",
                "from": "Ana <Ana@Acme.test>",
                "unsubscribe_url": "mailto:u+{contact}@acme.test",
            },  # fmt: skip
        },
        "inboxes": {
            "ana": {
                "host": "imap.acme.test",
                "username_env": "U",
                "password_env": "P",
                "senders": ["Ana@Acme.test"],
            },  # fmt: skip
            "desk": {
                "host": "imap.acme.test",
                "security": "starttls",
                "username_env": "U",
                "password_env": "P",
                "folders": ["INBOX", "Bounces"],
                "mark_seen": True,
            },  # fmt: skip
        },
    }

    ana, desk = inbox_settings(config)

    assert (ana.port, ana.security, ana.folders, ana.writes) == (
        993,
        Security.TLS,
        ("INBOX",),
        False,
    )
    assert ana.served.senders == frozenset({"ana@acme.test"})
    assert ana.served.default_sender == "ana@acme.test"
    assert [u.shown for u in ana.unsubscribe] == ["u+{contact}@acme.test"]
    assert (desk.port, desk.folders, desk.served.senders, desk.writes) == (
        143,
        ("INBOX", "Bounces"),
        None,
        True,
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"host": "imap.acme.test", "security": "none"},
            "inboxes.ana: security none would send the password to imap.acme.test in clear text",
        ),
        ({"host": "", "security": "tls"}, "inboxes.ana: an inbox needs a host"),
    ],
)
def test_settings_that_are_refused(spec: dict[str, Any], message: str) -> None:
    config = {"inboxes": {"ana": {**spec, "username_env": "U", "password_env": "P"}}}

    with pytest.raises(ConfigError, match=message):
        inbox_settings(config)


def test_clear_text_to_another_host_needs_allow_insecure() -> None:
    spec = {"host": "imap.lan", "security": "none", "allow_insecure": True}
    config = {"inboxes": {"ana": {**spec, "username_env": "U", "password_env": "P"}}}

    [inbox] = inbox_settings(config)

    assert (inbox.security, inbox.port) == (Security.NONE, 143)


def test_the_schema_checks_inboxes_with_line_and_column(run: Run, write: Write) -> None:
    write("seqctl.yaml", "inboxes:\n  ana:\n    host: imap.acme.test\n    password: hunter2\n")

    result = run("inbox", "sync")

    assert result.exit_code == 2
    assert "seqctl.yaml:4:5: error [unknown-key] unknown key 'password'" in result.stderr
