"""What the sync reads and writes: only new mail, read-only unless asked, a stop between two
messages, big mail read in part. Against Dovecot, for contacts enrolled in a sequence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from seqctl.config import load_config
from seqctl.engine.inbox import sync_configured
from seqctl.engine.run.stopping import StopRequest
from seqctl.store import open_store
from tests.conftest import Launch, Run
from tests.engine.inbox import mails
from tests.engine.inbox.test_sync import flags
from tests.playbooks import HELLO, auto_playbook

Write = Callable[[str, str], Path]
KEYS = [f"c{n}" for n in range(10)]


def start(launch: Launch, write: Write, imap: Any, **inbox: Any) -> Run:
    """Ten contacts, each sent the hello of `hello` on Monday; the inbox on Dovecot."""
    spec = {"host": "127.0.0.1", "port": imap.port, "security": "none",
            "username_env": "IMAP_USER", "password_env": "IMAP_PASSWORD", **inbox}  # fmt: skip
    write("seqctl.yaml", f"inboxes:\n  ana: {json.dumps(spec)}\n")
    rows = "".join(f"{key},{key}@example.com\n" for key in KEYS)
    run = launch({"hello": auto_playbook("hello", HELLO)}, "key,email\n" + rows)
    run("--now=2026-11-23T14:00:00Z", "enroll", "hello", "--file", "c.csv")
    return run


def reply(key: str, minute: int, **fields: str) -> bytes:
    return mails.html_only_reply(
        sender=f"<{key}@example.com>", subject="Re: Hi", body="Yes!", mid=f"r-{key}-{minute}",
        date=f"Tue, 24 Nov 2026 09:{minute:02d}:00 +0000", **fields,
    )  # fmt: skip


def states(run: Run) -> dict[str, str]:
    return {row["contact"]: row["state"] for row in run("enrollments", "--json").json}


def test_mark_seen_marks_only_the_mail_that_made_an_event(
    launch: Launch, write: Write, imap: Any
) -> None:
    run = start(launch, write, imap, mark_seen=True)
    imap.deliver(reply("c1", 0))
    imap.deliver(mails.stranger(sender="<x@elsewhere.example>", date="Tue, 24 Nov 2026 09:01:00"
                                " +0000", mid="s1"))  # fmt: skip

    assert run("--now=2026-11-24T12:00:00Z", "inbox", "sync").exit_code == 0

    assert flags(imap) == {1: "\\Seen", 2: ""}


def test_move_to_moves_only_the_mail_that_made_an_event(
    launch: Launch, write: Write, imap: Any
) -> None:
    run = start(launch, write, imap, move_to="Handled by seqctl")
    imap.deliver(reply("c1", 0))
    imap.deliver(mails.stranger(sender="<x@elsewhere.example>", date="Tue, 24 Nov 2026 09:01:00"
                                " +0000", mid="s1"))  # fmt: skip
    imap.deliver(reply("c2", 2))

    result = run("--now=2026-11-24T12:00:00Z", "inbox", "sync", "--json")

    assert result.exit_code == 0, result.stdout
    assert list(flags(imap)) == [2]  # the stranger's mail stays
    assert len(flags(imap, "Handled by seqctl")) == 2  # the folder was made for them


def test_the_first_sync_reads_nothing_older_than_the_oldest_running_enrollment(
    launch: Launch, write: Write, imap: Any
) -> None:
    run = start(launch, write, imap)
    old = mails.html_only_reply(
        sender="<c1@example.com>", subject="Last year's question", body="?", mid="old-1",
        date="Mon, 02 Nov 2026 09:00:00 +0000",
    )  # fmt: skip
    imap.deliver(old)
    imap.deliver(reply("c2", 0))

    report = run("--now=2026-11-24T12:00:00Z", "inbox", "sync", "--json").json

    assert (report["read"], report["events"]["reply"]) == (1, 1)
    assert states(run)["c1"] == "active"


def test_a_reply_written_before_the_enrollment_is_no_answer_to_it(
    launch: Launch, write: Write, imap: Any
) -> None:
    run = start(launch, write, imap)
    run("--now=2026-11-24T12:00:00Z", "inbox", "sync")
    # Delivered late, but written on Sunday, before c1 was enrolled on Monday.
    imap.deliver(
        mails.html_only_reply(
            sender="<c1@example.com>", subject="Hello", body="Hi Ana", mid="sunday-1",
            date="Sun, 22 Nov 2026 18:00:00 +0000",
        )
    )  # fmt: skip

    report = run("--now=2026-11-24T13:00:00Z", "inbox", "sync", "--json").json

    assert (report["read"], report["unmatched"]) == (1, 1)
    assert states(run)["c1"] == "active"


def test_a_stop_request_ends_the_sync_between_two_messages(
    launch: Launch, write: Write, imap: Any, project: Path
) -> None:
    run = start(launch, write, imap)
    for minute, key in enumerate(KEYS):
        imap.deliver(reply(key, minute))
    stop = StopRequest()
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    config = load_config(project / "seqctl.yaml").data
    with open_store(project / "seqctl.db") as store:
        stop.follow(lambda: len(store.events()) >= 3, "SIGTERM")

        report = sync_configured(store, config, now=now, stop=stop)

    assert (report.stopped, report.read, report.events["reply"]) == ("SIGTERM", 3, 3)
    [folder] = run("inbox", "status", "--json").json
    assert folder["last_uid"] == 3
    assert list(states(run).values()).count("exited") == 3
    rest = run("--now=2026-11-24T12:05:00Z", "inbox", "sync", "--json").json
    assert (rest["read"], rest["events"]["reply"], rest["duplicates"]) == (7, 7, 0)
    assert set(states(run).values()) == {"exited"}


def test_sigterm_stops_the_command_between_two_messages_and_nothing_is_lost(
    launch: Launch, write: Write, imap: Any, project: Path
) -> None:
    run = start(launch, write, imap)
    count = 3000
    imap.deliver_many(
        [
            mails.stranger(
                sender=f"<s{n}@elsewhere.example>",
                mid=f"s-{n}",
                date="Tue, 24 Nov 2026 09:00:00 +0000",
            )  # fmt: skip
            for n in range(count)
        ]
    )
    env = {**os.environ, "SEQCTL_NOW": "2026-11-24T12:00:00Z"}
    command = [sys.executable, "-m", "seqctl", "inbox", "sync", "--json"]
    process = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    db = project / "seqctl.db"
    while time.monotonic() < deadline and process.poll() is None:
        with open_store(db) as store:  # the first batch of 100 is written
            if any(f.messages for f in store.inbox_folders()):
                break
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)

    if process.returncode == 0:  # it had read everything before the signal came
        pytest.skip("the sync ended before the signal: a faster machine than expected")
    assert process.returncode == 143, err
    assert b"stopped (SIGTERM) between two messages" in err
    first = json.loads(out)["read"]
    assert 0 < first < count
    rest = run("--now=2026-11-24T12:05:00Z", "inbox", "sync", "--json").json
    assert first + rest["read"] == count  # every message read once: none lost, none twice
    [folder] = run("inbox", "status", "--json").json
    assert folder["messages"] == count


def test_30_mb_messages_are_read_in_part_and_a_reply_among_them_still_counts(
    launch: Launch, write: Write, imap: Any
) -> None:
    run = start(launch, write, imap)
    imap.deliver(mails.huge(sender="<junk@elsewhere.example>", mid="big-junk",
                            date="Tue, 24 Nov 2026 08:59:00 +0000"))  # fmt: skip
    imap.deliver(mails.huge(sender="<c3@example.com>", mid="big-c3",
                            date="Tue, 24 Nov 2026 09:00:00 +0000"))  # fmt: skip

    report = run("--now=2026-11-24T12:00:00Z", "inbox", "sync", "--json").json

    assert (report["read"], report["unmatched"], report["events"]["reply"]) == (2, 1, 1)
    [row] = [r for r in run("timeline", "c3", "--json").json if r["kind"] == "reply"]
    assert "read its first 256 KB of 30720 KB" in row["detail"]


def test_a_bounce_without_the_returned_headers_is_matched_by_its_failed_recipient(
    launch: Launch, write: Write, imap: Any
) -> None:
    run = start(launch, write, imap)
    sent = mails.Sent("<not-ours@elsewhere.example>", "c4@example.com", "Hi", "no-such-key")
    bounce = mails.postfix_bounce(sent, date="Tue, 24 Nov 2026 09:00:00 +0000")
    head, _, _ = bounce.partition(b"Content-Description: Undelivered Message")
    imap.deliver(head + b"--\r\n")  # the report without the original attached

    report = run("--now=2026-11-24T12:00:00Z", "inbox", "sync", "--json").json

    assert (report["events"]["bounce"], report["exited"]) == (1, 1)
    [row] = [r for r in run("timeline", "c4", "--json").json if r["kind"] == "bounce"]
    assert "matched by bounced recipient address c4@example.com" in row["detail"]
    assert [s["value"] for s in run("suppressions", "--json").json] == ["c4@example.com"]


def test_an_unsubscribe_without_a_key_in_its_address_is_the_sender_s(
    launch: Launch, write: Write, imap: Any, project: Path
) -> None:
    spec = {"host": "127.0.0.1", "port": imap.port, "security": "none",
            "username_env": "IMAP_USER", "password_env": "IMAP_PASSWORD"}  # fmt: skip
    channel = (
        "channels:\n  email: {kind: smtp, host: 127.0.0.1, port: 25, from: ana@acme.test,"
        " unsubscribe_url: 'mailto:leave@acme.test?subject=unsubscribe'}\n"
    )
    write("seqctl.yaml", channel + f"inboxes:\n  ana: {json.dumps(spec)}\n")
    rows = "".join(f"{key},{key}@example.com\n" for key in KEYS)
    run = launch({"hello": auto_playbook("hello", HELLO)}, "key,email\n" + rows)
    run("--now=2026-11-23T14:00:00Z", "enroll", "hello", "--file", "c.csv")
    imap.deliver(
        mails.unsubscribe_request(
            sender="<c5@example.com>",
            to="leave@acme.test",
            mid="u-5",
            date="Tue, 24 Nov 2026 09:00:00 +0000",
        )  # fmt: skip
    )

    report = run("--now=2026-11-24T12:00:00Z", "inbox", "sync", "--json").json

    assert report["events"]["unsubscribe"] == 1
    assert states(run)["c5"] == "exited"
    assert [s["value"] for s in run("suppressions", "--json").json] == ["c5@example.com"]
