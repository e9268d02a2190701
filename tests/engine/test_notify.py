"""Owners hear what needs them in one digest per tick, however many events came in."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import BOTH_STORES, Launch
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
