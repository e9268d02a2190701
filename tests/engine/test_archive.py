"""Archiving a sequence: it stops for everyone, leaves the lists and keeps its history."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import BOTH_STORES, Launch
from tests.engine.outbox import outbox
from tests.playbooks import auto_playbook

pytestmark = BOTH_STORES

WELCOME = auto_playbook(
    "welcome-series",
    """
  - id: hello
    type: email
    subject: Hi
    body: Hello
  - id: call
    type: call
    wait: 1 day
  - id: again
    type: email
    wait: 2 days
    subject: Again
    body: Hello again
""",
)
OTHER = auto_playbook("other", "  - id: hi\n    type: email\n    subject: Hi\n    body: Hi\n")
T0 = "--now=2026-11-23T14:00:00Z"


def test_archive_stops_everyone_hides_the_sequence_and_keeps_its_history(
    launch: Launch, project: Path
) -> None:
    run = launch(
        {"welcome-series": WELCOME, "other": OTHER},
        "key,email\nann,ann@example.com\nbob,bob@example.com\n",
    )
    run(T0, "enroll", "welcome-series", "-c", "ann", "-c", "bob")
    run(T0, "tick")
    run("--now=2026-11-24T14:00:00Z", "tick")  # the calls are due
    assert len(run("--now=2026-11-24T14:00:00Z", "actions", "--json").json) == 2

    archived = run("--now=2026-11-24T15:00:00Z", "archive", "welcome-series")
    assert archived.stdout == "welcome-series: archived; 2 running enrollments ended\n"
    states = {e["contact"]: (e["state"], e["reason"]) for e in run("enrollments", "--json").json}
    assert states == {"ann": ("exited", "archived"), "bob": ("exited", "archived")}
    assert run("--now=2026-11-24T15:00:00Z", "actions", "--json").json == []  # cancelled
    run("--now=2026-11-30T14:00:00Z", "tick")
    assert [m["step"] for m in outbox(project)] == ["hello", "hello"]  # nothing more sent

    # Hidden from lists unless asked; its history and versions stay.
    assert [s["sequence"] for s in run("sequences", "list", "--json").json] == ["other"]
    assert [s["sequence"] for s in run("sequences", "list", "--archived", "--json").json] == [
        "welcome-series"
    ]
    assert len(run("sequences", "list", "--all", "--json").json) == 2
    assert [s["sequence"] for s in run("status", "--json").json] == ["other"]
    shown = run("sequences", "show", "welcome-series", "--json").json
    assert (shown["status"], len(shown["versions"])) == ("archived", 1)
    kinds = [row["kind"] for row in run("timeline", "ann", "--json").json]
    assert kinds[:2] == ["enrolled", "sent"] and kinds[-1] == "exited"

    refused = run("--now=2026-11-30T14:00:00Z", "enroll", "welcome-series", "-c", "ann")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        "seqctl: sequence 'welcome-series' is archived: it takes no new enrollments "
        "(seqctl unarchive welcome-series to use it again)"
    )
    assert run("activate", "welcome-series").exit_code == 2
    assert run("archive", "welcome-series").exit_code == 2  # already archived
    # Its playbook is still in the repository: publish leaves it alone and says so.
    (project / "playbooks" / "welcome-series.yaml").write_text(WELCOME.replace("Hi", "Hey"))
    published = run("publish")
    assert "welcome-series: archived, not published" in published.stdout
    assert len(run("sequences", "show", "welcome-series", "--json").json["versions"]) == 1

    back = run("--now=2026-12-01T09:00:00Z", "unarchive", "welcome-series")
    assert back.exit_code == 0
    assert run("sequences", "show", "welcome-series", "--json").json["status"] == "draft"
    assert run("--now=2026-12-01T09:00:00Z", "enroll", "welcome-series", "-c", "ann").exit_code == 0


def test_publish_and_diff_report_a_playbook_removed_from_the_repository(
    launch: Launch, project: Path
) -> None:
    run = launch({"welcome-series": WELCOME, "other": OTHER}, "key,email\nann,ann@example.com\n")
    (project / "playbooks" / "welcome-series.yaml").unlink()
    notice = (
        "welcome-series: published, but its playbook is gone from playbooks/; "
        "`seqctl archive welcome-series` to retire it"
    )
    diff = run("diff")
    assert diff.exit_code == 0
    assert diff.stdout.splitlines() == ["other: unchanged (version 1)", notice]
    published = run("publish", "--json")
    assert published.json[-1] == {
        "sequence": "welcome-series",
        "version": 1,
        "changed": False,
        "gone": True,
        "source": "playbooks/welcome-series.yaml",
    }
    assert run("publish").stdout.splitlines()[-1] == notice
    # Publishing one file names only itself: nothing else is called gone.
    assert run("diff", "playbooks/other.yaml").stdout == "other: unchanged (version 1)\n"
    run("archive", "welcome-series")
    assert run("diff").stdout == "other: unchanged (version 1)\n"
