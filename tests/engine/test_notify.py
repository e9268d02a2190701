"""Owners hear what needs them in one digest per tick, however many events came in."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Launch
from tests.playbooks import HELLO, auto_playbook

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
