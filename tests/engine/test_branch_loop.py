"""A branch that loops without a wait fails the enrollment instead of spinning the tick."""

from __future__ import annotations

from tests.conftest import BOTH_STORES, Launch

pytestmark = BOTH_STORES

LOOP = """
sequence: loop
steps:
  - id: check
    type: branch
    if: "contact.vip"
    then: check
    else: done
  - id: done
    type: task
"""


def test_branch_loop_fails_with_a_reason(launch: Launch) -> None:
    run = launch({"loop": LOOP}, "key,email,vip\nvip,vip@example.com,yes\nregular,r@example.com,\n")
    run("--now=2026-11-23T08:00:00Z", "enroll", "loop", "-c", "vip", "-c", "regular")
    report = run("--now=2026-11-23T08:00:00Z", "tick", "--json")
    assert report.exit_code == 1
    assert (report.json["failed"], report.json["actions"]) == (1, 1)
    states = {e["contact"]: (e["state"], e["reason"]) for e in run("enrollments", "--json").json}
    assert states["regular"] == ("waiting", "action for step 'done'")
    assert states["vip"][0] == "failed"
    assert "branch loop" in states["vip"][1]
