"""`seqctl db copy`: a live SQLite project moves to PostgreSQL and goes on where it was."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Launch, Run
from tests.engine.outbox import outbox
from tests.playbooks import INTRO

# Waits for a person's approval (no `approval: auto`), then a last word a day later.
RENEWALS = """
sequence: renewals
owner: bob@acme.test
sender: {name: Bob, email: bob@acme.test}
steps:
  - id: reminder
    type: email
    subject: "Your plan renews soon"
    body: "Hi {{ contact.first_name }}, your plan renews next month."
  - id: last
    type: email
    wait: 1 day
    subject: Last reminder
    body: "Hi {{ contact.first_name }}, last reminder."
"""
CONTACTS = (
    "key,email,first_name,timezone\n"
    "ana,ana@example.com,Ana,Europe/Lisbon\n"
    "bea,bea@example.com,Bea,America/Sao_Paulo\n"
    "cai,cai@example.com,Cai,Asia/Tokyo\n"
    "dee,dee@example.com,Dee,America/New_York\n"
    "eli,eli@example.com,Eli,UTC\n"
)
LATER = ("2026-11-24T15:30:00Z", "2026-11-25T09:00:00Z", "2026-11-26T12:00:00Z")
VIEWS = (
    ("status", "--json"),
    ("enrollments", "--json"),
    ("messages", "--json"),
    ("actions", "--json"),
    ("approvals", "--json"),
)


def ok(result: object) -> None:
    assert getattr(result, "exit_code", None) in (0, 1), result


@pytest.fixture
def busy(launch: Launch) -> Run:
    """A day of work on SQLite: sent mail, a failed send, an open call, an approval waiting,
    one approved, a reply, a suppression."""
    run = launch({"intro": INTRO, "renewals": RENEWALS}, CONTACTS)
    at = "--now=2026-11-23T09:00:00Z"
    ok(run(at, "enroll", "intro", "-c", "ana", "-c", "bea", "-c", "cai", "-c", "dee"))
    ok(run(at, "enroll", "renewals", "-c", "ana", "-c", "eli"))
    ok(run(at, "tick"))
    [first, _] = run(at, "approvals", "--json").json
    assert run("--now=2026-11-23T09:30:00Z", "approve", str(first["id"])).exit_code == 0
    assert run("--now=2026-11-23T10:00:00Z", "event", "reply", "-c", "cai").exit_code == 0
    ok(run("--now=2026-11-23T12:00:00Z", "tick"))
    actions = run("--now=2026-11-23T12:00:00Z", "actions", "--json").json
    assert len(actions) >= 2
    assert run("--now=2026-11-23T15:30:00Z", "done", str(actions[0]["id"])).exit_code == 0
    suppressed = run("--now=2026-11-23T16:00:00Z", "suppress", "dee@example.com", "--reason", "x")
    assert suppressed.exit_code == 0
    return run


def sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        tables = [
            name
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name not in ("_sqlite_migrations", "leases") and not name.startswith("sqlite_")
        ]
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


def test_copy_carries_everything_over_and_goes_on_where_sqlite_would(
    busy: Run, project: Path, postgres_url: str
) -> None:
    run = busy
    source = project / "seqctl.db"
    copied = run("db", "copy", str(source), postgres_url, "--json")
    assert copied.exit_code == 0, copied.stderr
    counts = sqlite_counts(source)
    assert copied.json["tables"] == counts
    assert counts["messages"] >= 5 and counts["actions"] >= 2 and counts["events"] == 1
    assert counts["suppressions"] == counts["suppression_log"] == 1
    assert copied.json["rows"] == sum(counts.values())

    pg = ("--db", postgres_url)
    for view in VIEWS:
        assert run(*pg, *view).stdout == run(*view).stdout, view
    info = run(*pg, "db", "info", "--json").json
    assert (info["store"], info["counts"]["enrollments"]) == ("postgresql", counts["enrollments"])

    # The next ticks: on a copy of the SQLite file, then on PostgreSQL from the same outbox.
    twin = project / "twin.db"
    shutil.copy(source, twin)
    sent_before = (project / "outbox.jsonl").read_text()
    for at in LATER:
        ok(run("--db", str(twin), f"--now={at}", "tick"))
    on_sqlite = outbox(project)
    states_sqlite = run("--db", str(twin), "enrollments", "--json").stdout
    (project / "outbox.jsonl").write_text(sent_before)
    for at in LATER:
        ok(run(*pg, f"--now={at}", "tick"))
    assert outbox(project) == on_sqlite
    assert len(on_sqlite) > len(sent_before.splitlines())  # the ticks did send something
    assert run(*pg, "enrollments", "--json").stdout == states_sqlite
    # New rows continue after the copied ids.
    messages = run(*pg, "messages", "--json").json
    assert len({m["id"] for m in messages}) == len(messages)


def test_human_output_is_a_line_per_table_and_a_verdict(
    busy: Run, project: Path, postgres_url: str
) -> None:
    result = busy("db", "copy", "seqctl.db", postgres_url)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "sequences: 2"
    assert len(lines) == 16
    assert lines[-1].startswith("copied ") and lines[-1].endswith("every table's count matches")


def test_refuses_a_target_that_is_not_empty(busy: Run, postgres_url: str) -> None:
    assert busy("db", "copy", "seqctl.db", postgres_url).exit_code == 0
    again = busy("db", "copy", "seqctl.db", postgres_url)
    assert again.exit_code == 2
    assert "not empty (it has sequences, versions, contacts, enrollments" in again.stderr
    # Nothing was added the second time.
    assert busy("--db", postgres_url, "db", "info", "--json").json["counts"]["sequences"] == 2


def test_refuses_a_missing_source(run: Run, postgres_url: str) -> None:
    result = run("db", "copy", "nowhere.db", postgres_url)
    assert (result.exit_code, result.stderr) == (
        2,
        "seqctl: nowhere.db: no such file; name the SQLite database to copy from\n",
    )


def test_refuses_a_source_that_is_not_seqctls(run: Run, project: Path, postgres_url: str) -> None:
    with sqlite3.connect(project / "other.db") as db:
        db.execute("CREATE TABLE notes (body TEXT)")
    (project / "text.db").write_text("hello, not a database\n" * 100)
    other = run("db", "copy", "other.db", postgres_url)
    assert other.exit_code == 2
    assert "other.db: not a seqctl database (tables: notes)" in other.stderr
    text = run("db", "copy", "text.db", postgres_url)
    assert text.exit_code == 2
    assert "text.db: not an SQLite database" in text.stderr
    # The target was left alone: no schema was made in it.
    assert run("--db", postgres_url, "db", "info", "--json").json["counts"]["sequences"] == 0


def test_refuses_a_source_whose_killed_tick_left_outcomes_unrecorded(
    busy: Run, project: Path, postgres_url: str
) -> None:
    journals = project / "seqctl.db.outcomes"
    journals.mkdir()
    (journals / "0123.journal").write_text('{"journal": "0123", "mark": "journal:main:sms"}\n')
    refused = busy("db", "copy", "seqctl.db", postgres_url)
    assert refused.exit_code == 2
    assert "seqctl.db.outcomes: a tick was killed while it sent" in refused.stderr
    assert "run `seqctl tick` on it once, then copy" in refused.stderr
    assert busy("--db", postgres_url, "db", "info", "--json").json["counts"]["sequences"] == 0


def test_refuses_anything_but_sqlite_to_postgresql(run: Run, postgres_url: str) -> None:
    to_file = run("db", "copy", "seqctl.db", "copy.db")
    assert to_file.exit_code == 2
    assert "only SQLite -> PostgreSQL" in to_file.stderr
    backwards = run("db", "copy", postgres_url, "copy.db")
    assert backwards.exit_code == 2
    assert "copying PostgreSQL -> SQLite is not supported" in backwards.stderr


def test_a_failure_midway_leaves_the_target_empty(
    busy: Run, project: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seqctl.store.postgres import copy

    def broken(reader: object, pg: object, table: str, progress: object) -> int:
        if table == "messages":
            raise RuntimeError("the disk went away")
        return real(reader, pg, table, progress)  # type: ignore[arg-type]

    real = copy._copy_table
    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr(copy, "_copy_table", broken)
        busy("db", "copy", "seqctl.db", postgres_url)
    counts = busy("--db", postgres_url, "db", "info", "--json").json["counts"]
    assert set(counts.values()) == {0}
    assert busy("db", "copy", "seqctl.db", postgres_url).exit_code == 0


def test_refuses_a_source_a_newer_seqctl_made(run: Run, project: Path, postgres_url: str) -> None:
    with sqlite3.connect(project / "seqctl.db") as db:
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('seqctl', 'm999_future', '2030-01-01')"
        )
    result = run("db", "copy", "seqctl.db", postgres_url)
    assert result.exit_code == 2
    assert "made by a newer seqctl (its schema has m999_future" in result.stderr


def test_a_text_postgresql_cannot_hold_is_named_and_nothing_is_copied(
    busy: Run, project: Path, postgres_url: str
) -> None:
    with sqlite3.connect(project / "seqctl.db") as db:  # SQLite takes a NUL in a text
        key = db.execute("SELECT key FROM contacts ORDER BY key LIMIT 1").fetchone()[0]
        db.execute("UPDATE contacts SET phone = 'x' || char(0) || 'y' WHERE key = ?", [key])
    result = busy("db", "copy", "seqctl.db", postgres_url)
    assert result.exit_code == 2
    assert f"contacts (key {key!r}, phone)" in result.stderr
    assert "Traceback" not in result.stderr
    counts = busy("--db", postgres_url, "db", "info", "--json").json["counts"]
    assert set(counts.values()) == {0}
