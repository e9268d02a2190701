"""Owners hear what needs them in one digest per tick, however many events came in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.channels.latency import Provider, http_server
from tests.conftest import BOTH_STORES, Launch, Run
from tests.playbooks import HELLO, auto_playbook

pytestmark = BOTH_STORES

PLAYBOOK = auto_playbook(
    "owned",
    HELLO,
    """
  - id: call
    type: call
    wait: 1 hour
""",
    settings="owner: ana@acme.test\n",
)


def test_one_digest_per_owner_per_tick(
    launch: Launch, write: Callable[[str, str], Path], project: Path
) -> None:
    write(
        "seqctl.yaml",
        "notifications: {channel: owners}\nchannels: {owners: {kind: file, path: owners.jsonl}}\n",
    )
    rows = "".join(f"c{i},c{i}@example.com\n" for i in range(50))
    run = launch({"owned": PLAYBOOK}, "key,email\n" + rows)
    run("--now=2026-11-23T08:00:00Z", "enroll", "owned", "--file", "c.csv")
    run("--now=2026-11-23T08:00:00Z", "tick")  # the first tick starts the record
    for i in range(10):  # an event storm: ten replies
        run("--now=2026-11-23T08:30:00Z", "event", "reply", "--contact", f"c{i}")
    report = run("--now=2026-11-23T09:00:00Z", "tick", "--json").json
    assert (report["actions"], report["notified"]) == (40, 1)
    [digest] = [json.loads(line) for line in (project / "owners.jsonl").read_text().splitlines()]
    assert digest["to"] == "ana@acme.test"
    assert digest["subject"] == "seqctl: 50 things need you"
    assert digest["body"].count("replied") == 10
    assert digest["body"].count("due for a person") == 40
    assert run("--now=2026-11-23T09:01:00Z", "tick", "--json").json["notified"] == 0


def test_digests_name_approvals_failures_every_ending_and_go_to_assignees(
    launch: Launch, write: Callable[[str, str], Path], project: Path
) -> None:
    write(
        "seqctl.yaml",
        "notifications: {channel: owners}\nchannels: {owners: {kind: file, path: owners.jsonl}}\n",
    )
    held = "sequence: held\nowner: ana@acme.test\nsteps:\n"
    held += "  - id: offer\n    type: email\n    subject: Offer\n    body: Hi\n"
    engaged = auto_playbook(
        "engaged",
        """
  - id: hello
    type: email
    subject: Hi
    body: "Hi {{ contact.nick }}"
  - id: call
    type: call
    wait: 1 hour
    assignee: bruno@acme.test
""",
        settings="owner: ana@acme.test\non: {open: exit, click: continue}\n",
    )
    run = launch(
        {"held": held, "engaged": engaged},
        "key,email,nick\nc1,c1@example.com,One\nc2,c2@example.com,\nc3,c3@example.com,Three\n",
    )
    run("--now=2026-11-23T08:00:00Z", "tick")  # the first tick starts the record
    run("--now=2026-11-23T08:00:00Z", "enroll", "held", "-c", "c1")
    run("--now=2026-11-23T08:00:00Z", "enroll", "engaged", "-c", "c1", "-c", "c2", "-c", "c3")
    run("--now=2026-11-23T08:01:00Z", "tick")
    run("--now=2026-11-23T08:30:00Z", "event", "open", "--contact", "c1")  # ends `engaged`
    run("--now=2026-11-23T08:31:00Z", "event", "click", "--contact", "c3")  # continues: no news
    run("--now=2026-11-23T09:01:00Z", "tick")

    digests = [json.loads(line) for line in (project / "owners.jsonl").read_text().splitlines()]
    first, *later = digests
    assert first["to"] == "ana@acme.test"
    lines = first["body"].splitlines()
    assert "- 2026-11-23T08:01:00Z c1 waits for approval (held/offer)" in lines
    [failed] = [line for line in lines if " c2 " in line]
    assert failed.startswith("- 2026-11-23T08:01:00Z c2 failed: step 'hello': ")
    assert "nick" in failed
    by_owner = {d["to"]: d["body"] for d in later}
    assert set(by_owner) == {"ana@acme.test", "bruno@acme.test"}
    assert "c1 opened: the sequence ended for them (engaged/hello)" in by_owner["ana@acme.test"]
    assert "clicked" not in by_owner["ana@acme.test"]
    # The call has an assignee: Bruno hears about it, in his own digest, not Ana.
    assert "c3 due for a person (engaged/call)" in by_owner["bruno@acme.test"]
    assert "due for a person" not in by_owner["ana@acme.test"]


def owned_by(owner: str, sequence: str) -> str:
    """Sent from Ana's address (she gave the consent), owned by `owner`."""
    settings = f"owner: {owner}\nsender: {{name: Ana, email: ana@acme.test}}\n"
    later = "\n  - id: call\n    type: call\n    wait: 2 days\n"  # enrollments stay active
    return auto_playbook(sequence, HELLO + later, settings=settings)


def two_owners(launch: Launch, write: Callable[[str, str], Path], port: int) -> Run:
    """Ana owns `ours`, Bruno `theirs`; digests go to a webhook on `port`; the record started."""
    write(
        "seqctl.yaml",
        "notifications: {channel: owners}\nchannels:\n"
        f"  owners: {{kind: webhook, url: 'http://127.0.0.1:{port}/d', connections: 1}}\n",
    )
    run = launch(
        {
            "ours": owned_by("ana@acme.test", "ours"),
            "theirs": owned_by("bruno@acme.test", "theirs"),
        },
        "key,email\nc1,c1@example.com\nc2,c2@example.com\nc3,c3@example.com\n",
    )
    run("--now=2026-11-23T08:00:00Z", "tick")  # the first tick starts the record
    run("--now=2026-11-23T08:00:00Z", "enroll", "ours", "-c", "c1", "-c", "c3")
    run("--now=2026-11-23T08:00:00Z", "enroll", "theirs", "-c", "c2")
    return run


def digests_to(provider: Provider) -> dict[str, list[str]]:
    """The bodies of the digests that arrived, by owner."""
    found: dict[str, list[str]] = {}
    for request in provider.signatures:
        body = json.loads(request["body"])
        found.setdefault(body["to"], []).append(body["body"])
    return found


def test_a_digest_that_could_not_go_keeps_its_news_and_the_others_are_not_told_twice(
    launch: Launch, write: Callable[[str, str], Path]
) -> None:
    provider = Provider(by_recipient={"bruno@acme.test": "busy"})
    with http_server(provider) as port:
        run = two_owners(launch, write, port)
        run("--now=2026-11-23T08:30:00Z", "event", "reply", "--contact", "c1")
        run("--now=2026-11-23T08:30:00Z", "event", "reply", "--contact", "c2")
        first = run("--now=2026-11-23T09:00:00Z", "tick", "--json")
        assert first.exit_code == 0  # it goes with the next tick: nothing failed for good
        assert first.json["notified"] == 1
        assert first.json["digests_failed"] == [
            {"owner": "bruno@acme.test", "error": "HTTP 429: slow down", "again": True}
        ]
        assert first.stderr == (
            "seqctl: the digest to bruno@acme.test was not sent: HTTP 429: slow down; "
            "it is sent with the next tick\n"
        )
        assert list(digests_to(provider)) == ["ana@acme.test"]

        provider.by_recipient.clear()  # Bruno's end is back
        second = run("--now=2026-11-23T09:01:00Z", "tick", "--json")
        assert (second.json["notified"], second.stderr) == (1, "")
        assert "digests_failed" not in second.json
        bodies = digests_to(provider)
        assert len(bodies["ana@acme.test"]) == 1  # not told the same news again
        [bruno] = bodies["bruno@acme.test"]
        assert "c2 replied (theirs)" in bruno

        run("--now=2026-11-23T09:30:00Z", "event", "reply", "--contact", "c3")
        run("--now=2026-11-23T09:31:00Z", "tick")
        bodies = digests_to(provider)
        assert len(bodies["bruno@acme.test"]) == 1
        latest = bodies["ana@acme.test"][-1]  # only what is new
        assert latest.count("replied") == 1 and "09:30:00Z c3 replied" in latest


def test_a_digest_refused_for_good_is_said_and_not_tried_every_minute(
    launch: Launch, write: Callable[[str, str], Path]
) -> None:
    provider = Provider(by_recipient={"bruno@acme.test": "refuse"})
    with http_server(provider) as port:
        run = two_owners(launch, write, port)
        run("--now=2026-11-23T08:30:00Z", "event", "reply", "--contact", "c2")
        first = run("--now=2026-11-23T09:00:00Z", "tick", "--json")
        assert first.json["digests_failed"] == [
            {"owner": "bruno@acme.test", "error": "HTTP 400: no such recipient", "again": False}
        ]
        assert provider.requests == 1
        again = run("--now=2026-11-23T09:01:00Z", "tick")
        assert (again.exit_code, again.stderr, provider.requests) == (0, "", 1)


def test_a_tick_killed_while_a_digest_is_on_its_way_sends_the_ones_before_once(
    launch: Launch, write: Callable[[str, str], Path], project: Path
) -> None:
    provider = Provider(by_recipient={"bruno@acme.test": "hang"})
    with http_server(provider) as port:
        run = two_owners(launch, write, port)
        run("--now=2026-11-23T08:30:00Z", "event", "reply", "--contact", "c1")
        run("--now=2026-11-23T08:30:00Z", "event", "reply", "--contact", "c2")
        env = {k: v for k, v in os.environ.items() if k != "SEQCTL_NOW"}
        tick = subprocess.Popen(
            [sys.executable, "-m", "seqctl", "--now=2026-11-23T09:00:00Z", "tick"],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while "bruno@acme.test" not in digests_to(provider) and time.monotonic() < deadline:
            time.sleep(0.01)  # Ana's digest went first; Bruno's is on its way
        tick.send_signal(signal.SIGKILL)
        tick.wait()
        provider.by_recipient.clear()
        provider.release.set()
        # The killed tick's lease lasts ten minutes.
        after = run("--now=2026-11-23T09:11:00Z", "tick", "--json")
        assert after.json["notified"] == 1
    received = Counter({owner: len(bodies) for owner, bodies in digests_to(provider).items()})
    # Ana's was recorded as it went; Bruno's, in flight at the kill, is the one sent again.
    assert received == {"ana@acme.test": 1, "bruno@acme.test": 2}
    assert "c2 replied (theirs)" in digests_to(provider)["bruno@acme.test"][-1]
