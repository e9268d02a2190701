"""Moving running enrollments to a newer version, by step id."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import BOTH_STORES, Launch

pytestmark = BOTH_STORES

V1 = """
sequence: moving
steps:
  - id: first
    type: task
  - id: second
    type: call
    wait: 1 day
  - id: third
    type: task
    wait: 1 day
"""
V2 = """
sequence: moving
steps:
  - id: first
    type: task
  - id: third
    type: task
    wait: 2 days
  - id: fourth
    type: call
"""


def test_migrate_maps_steps_by_id(launch: Launch, write: Callable[[str, str], Path]) -> None:
    run = launch({"moving": V1}, "key,email\na,a@example.com\nb,b@example.com\n")
    run("--now=2026-11-23T08:00:00Z", "enroll", "moving", "-c", "a", "-c", "b")
    run("--now=2026-11-23T08:00:00Z", "tick")
    # a finishes the first task (now at 'second'); b is still on 'first'.
    [action_a] = [
        x
        for x in run("--now=2026-11-23T08:00:00Z", "actions", "--json").json
        if x["contact"] == "a"
    ]
    run("--now=2026-11-23T09:00:00Z", "done", str(action_a["id"]))
    write("playbooks/moving.yaml", V2)
    assert run("--now=2026-11-23T10:00:00Z", "publish", "--json").json[0]["version"] == 2
    dry = run("--now=2026-11-23T10:00:00Z", "migrate", "moving", "--to", "2", "--dry-run")
    assert dry.stdout.startswith("would move 1 to version 2")
    plan = run("--now=2026-11-23T10:00:00Z", "migrate", "moving", "--to", "2", "--json").json
    assert (plan["moved"], plan["forced"]) == (1, 0)
    assert plan["stranded"] == [{"contact": "a", "step": "second", "version": 1}]
    rows = {e["contact"]: (e["version"], e["step"]) for e in run("enrollments", "--json").json}
    assert rows == {"a": (1, "second"), "b": (2, "first")}
    forced = run(
        "--now=2026-11-23T10:00:00Z", "migrate", "moving", "--to", "2", "--force", "--json"
    ).json
    assert (forced["moved"], forced["forced"], forced["unchanged"]) == (1, 1, 1)
    rows = {e["contact"]: (e["version"], e["step"]) for e in run("enrollments", "--json").json}
    assert rows == {"a": (2, "third"), "b": (2, "first")}  # the next step that still exists
    assert "migrated" in [t["kind"] for t in run("timeline", "a", "--json").json]
    missing = run("migrate", "moving", "--to", "9")
    assert (missing.exit_code, missing.stderr) == (
        2,
        "seqctl: sequence 'moving' has no version 9\n",
    )
