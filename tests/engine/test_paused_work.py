"""A paused sequence pauses its people's work too: its actions and approvals wait with it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import BOTH_STORES, Launch
from tests.engine.outbox import outbox

pytestmark = BOTH_STORES

CALLS = "sequence: calls\nsteps:\n  - id: ring\n    type: call\n    instructions: Say hi\n"
HELD = "sequence: {}\nsteps:\n  - id: offer\n    type: email\n    subject: Offer\n    body: Hi\n"
T0 = "--now=2026-11-23T14:00:00Z"
T1 = "--now=2026-11-23T15:00:00Z"


def test_actions_and_approvals_of_a_paused_sequence_wait(launch: Launch, project: Path) -> None:
    run = launch(
        {"calls": CALLS, "held": HELD.format("held"), "open": HELD.format("open")},
        "key,email\nann,ann@example.com\nbob,bob@example.com\n",
    )
    run(T0, "enroll", "calls", "-c", "ann")
    run(T0, "enroll", "held", "-c", "ann")
    run(T0, "enroll", "open", "-c", "bob")
    run(T0, "tick")
    assert [a["contact"] for a in run(T1, "actions", "--due", "--json").json] == ["ann"]
    assert run(T1, "pause", "calls").exit_code == 0
    assert run(T1, "pause", "held").exit_code == 0

    # The call is not due while its sequence is paused; --all shows it, as paused.
    assert run(T1, "actions", "--due", "--json").json == []
    assert run(T1, "actions").stdout == "no actions\n"
    [held_action] = run(T1, "actions", "--all", "--json").json
    assert (held_action["sequence"], held_action["status"]) == ("calls", "paused")

    # Its approvals wait too: not listed, and not swept up by approve --all.
    assert [m["sequence"] for m in run(T1, "approvals", "--json").json] == ["open"]
    listed = {m["sequence"]: m["paused"] for m in run(T1, "approvals", "--all", "--json").json}
    assert listed == {"held": True, "open": False}
    bulk = run(T1, "approve", "--all")
    assert bulk.stdout == "approved 1 message; 1 on hold in paused sequences (approve them by id)\n"
    [held_message] = run(T1, "approvals", "--all", "--json").json
    # Approved by its id it is queued, and sent only once the sequence is resumed.
    one = run(T1, "approve", str(held_message["id"]))
    assert one.stdout.splitlines() == [
        "approved 1 message",
        f"#{held_message['id']}: on hold, sent once held is resumed",
    ]
    run("--now=2026-11-23T16:00:00Z", "tick")
    assert [m["contact"] for m in outbox(project)] == ["bob"]

    run("--now=2026-11-24T09:00:00Z", "resume", "held")
    run("--now=2026-11-24T09:00:00Z", "resume", "calls")
    run("--now=2026-11-24T09:00:00Z", "tick")
    assert [m["contact"] for m in outbox(project)] == ["bob", "ann"]
    [due] = run("--now=2026-11-24T09:00:00Z", "actions", "--due", "--json").json
    assert (due["contact"], due["status"]) == ("ann", "due")
