"""Databases that fail: locked by another program, read-only, full, damaged, or not seqctl's.

Each gives one line naming the file and what to do, exit 2, no traceback; the unfinished work
is rolled back and running the command again goes on. The lock holder is a real process.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seqctl import __version__
from seqctl.engine.contacts import import_contacts, read_contacts
from seqctl.engine.run import shards
from seqctl.engine.run.tick import Run as TickRun
from seqctl.errors import DatabaseError
from seqctl.store import SqliteStore, Store, database_fault, open_store
from seqctl.store.sqlite import connection
from seqctl.store.sqlite.migrations import migrations
from tests.conftest import Launch, Run, Write
from tests.playbooks import HELLO, auto_playbook

NOW = "--now=2026-11-23T08:00:00Z"
LOCKED = (
    ": the database is locked by another program (waited 0.2 s); the unfinished work was rolled "
    "back: run the command again once that program is done (a sqlite3 shell in a transaction, a "
    "backup, a long write)\n"
)
READ_ONLY = "the database is read-only (the file, its folder or the disk)"
FULL = "the disk is full (or the database reached its size limit)"
ELSEWHERE = (
    "point --db, SEQCTL_DB or seqctl.yaml's `database` at a seqctl database, or at a new file"
)


@pytest.fixture(autouse=True)
def quick_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wait 0.2 s for a lock instead of 30: the tests hold one for as long as they like."""
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_SECONDS", 0.2)


@contextmanager
def held(database: Path, *statements: str) -> Iterator[None]:
    """Another program keeps the database as these statements leave it, until the block ends."""
    code = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "for s in sys.argv[2:]: c.execute(s)\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(database), *statements],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def keys(run: Run) -> list[str]:
    result = run("contacts", "list", "--json")
    assert result.exit_code == 0, result.stderr
    return [contact["key"] for contact in result.json]


def test_a_write_waits_for_another_programs_lock_then_says_so_and_loses_nothing(
    run: Run, write: Write, project: Path
) -> None:
    write("first.csv", "key\na\nb\n")
    write("second.csv", "key\nc\nd\n")
    assert run(NOW, "contacts", "import", "first.csv").exit_code == 0
    with held(project / "seqctl.db", "BEGIN IMMEDIATE"):
        refused = run(NOW, "contacts", "import", "second.csv")
        assert (refused.exit_code, refused.stdout, refused.stderr) == (
            2,
            "",
            f"seqctl: {project / 'seqctl.db'}{LOCKED}",
        )
        assert keys(run) == ["a", "b"]  # readers do not wait for a writer
    assert run(NOW, "contacts", "import", "second.csv").exit_code == 0
    assert keys(run) == ["a", "b", "c", "d"]


def test_a_tick_on_a_locked_database_sends_nothing_and_the_next_one_sends_once(
    launch: Launch, project: Path
) -> None:
    run = launch({"hi": auto_playbook("hi", HELLO)}, "key,email\nann,ann@example.com\n")
    assert run(NOW, "enroll", "hi", "--contact", "ann").exit_code == 0
    with held(project / "seqctl.db", "BEGIN IMMEDIATE"):
        stopped = run(NOW, "tick")
        assert (stopped.exit_code, stopped.stderr) == (
            2,
            f"seqctl: {project / 'seqctl.db'}{LOCKED}",
        )
    assert not (project / "outbox.jsonl").exists()
    assert run(NOW, "tick", "--json").json["sent"] == 1
    assert run(NOW, "tick", "--json").json["sent"] == 0
    assert len((project / "outbox.jsonl").read_text().splitlines()) == 1


def test_an_exclusive_lock_stops_even_reading_with_the_same_message(
    run: Run, write: Write, project: Path
) -> None:
    write("c.csv", "key\na\n")
    assert run(NOW, "contacts", "import", "c.csv").exit_code == 0
    exclusive = ("PRAGMA locking_mode=EXCLUSIVE", "BEGIN EXCLUSIVE", "DELETE FROM marks")
    with held(project / "seqctl.db", *exclusive):
        result = run("contacts", "list")
    assert (result.exit_code, result.stderr) == (2, f"seqctl: {project / 'seqctl.db'}{LOCKED}")
    assert keys(run) == ["a"]


def test_a_read_that_fails_after_opening_is_named_by_the_one_handler(
    run: Run, write: Write, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("c.csv", "key\na\n")
    assert run(NOW, "contacts", "import", "c.csv").exit_code == 0

    def locked(self: SqliteStore, **_: object) -> None:
        error = sqlite3.OperationalError("database is locked")
        error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
        raise error

    monkeypatch.setattr(SqliteStore, "contacts", locked)
    result = run("contacts", "list")
    assert (result.exit_code, result.stderr) == (2, f"seqctl: {project / 'seqctl.db'}{LOCKED}")


def test_sqlite_errors_that_point_at_seqctl_stay_bugs() -> None:
    with open_store(":memory:") as store:
        with pytest.raises(sqlite3.OperationalError) as no_table:
            store.db.execute("SELECT * FROM nowhere")
        with pytest.raises(sqlite3.IntegrityError) as constraint:
            store.db.execute("INSERT INTO marks (name, value) VALUES ('x', NULL)")
    assert database_fault(no_table.value, "seqctl.db") is None
    assert database_fault(constraint.value, "seqctl.db") is None
    assert database_fault(ValueError("x"), "seqctl.db") is None


def test_another_programs_database_is_refused_and_left_untouched(run: Run, project: Path) -> None:
    theirs = project / "notes.db"
    with sqlite3.connect(theirs) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.close()
    before = digest(theirs)
    for command in (["status"], ["contacts", "import", "-"], ["tick"]):
        result = run("--db", str(theirs), NOW, *command, input="key\na\n")
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (
            f"seqctl: {theirs}: not a seqctl database but another program's (tables: notes); "
            "seqctl leaves it untouched: " + ELSEWHERE + "\n"
        )
    assert digest(theirs) == before
    assert sorted(p.name for p in project.iterdir() if p.name.startswith("notes")) == ["notes.db"]


def test_a_database_of_another_program_that_uses_the_same_migrations_library_too(
    project: Path,
) -> None:
    theirs = project / "app.db"
    with sqlite3.connect(theirs) as conn:
        conn.execute(
            "CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, migration_set TEXT, "
            "name TEXT, applied_at TEXT)"
        )
        conn.execute("INSERT INTO _sqlite_migrations VALUES (1, 'app', 'm001_users', 'then')")
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.close()
    before = digest(theirs)
    with pytest.raises(DatabaseError, match=r"another program's \(tables: users\)"):
        open_store(theirs)
    assert digest(theirs) == before


def test_a_file_that_is_not_a_database_is_named_as_such(run: Run, write: Write) -> None:
    write("notes.txt", "groceries: eggs, milk\n" * 100)
    result = run("--db", "notes.txt", "status")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "seqctl: notes.txt: not an SQLite database (a file of another kind); " + ELSEWHERE + "\n"
    )


def test_a_database_made_by_a_newer_seqctl_is_refused(run: Run, project: Path) -> None:
    assert run("status").exit_code == 0
    with sqlite3.connect(project / "seqctl.db") as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('seqctl', 'm099_from_the_future', 'later')"
        )
    conn.close()
    result = run("status")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"seqctl: {project / 'seqctl.db'}: made by a newer seqctl (its schema has "
        f"m099_from_the_future, unknown to seqctl {__version__}); upgrade seqctl to use it\n"
    )


def test_a_folder_or_a_missing_folder_is_not_a_database(run: Run, project: Path) -> None:
    (project / "data").mkdir()
    result = run("--db", "data", "status")
    assert (result.exit_code, result.stderr) == (
        2,
        "seqctl: data: a folder, not a database file; name a file (in it, or elsewhere) instead\n",
    )
    result = run("--db", "nowhere/seqctl.db", "status")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"seqctl: no database at {project / 'nowhere/seqctl.db'} (")
    result = run("--db", "nowhere/seqctl.db", "db", "init")
    assert (result.exit_code, result.stderr) == (
        2,
        "seqctl: nowhere/seqctl.db: folder nowhere does not exist\n",
    )


def test_an_empty_file_becomes_a_seqctl_database(run: Run, project: Path) -> None:
    (project / "seqctl.db").touch()
    assert run("status").exit_code == 0
    assert run("status").exit_code == 0


def rows(count: int, start: int = 0) -> str:
    return "key,email\n" + "".join(f"k{i:05},k{i}@example.com\n" for i in range(start, count))


def imported(store: Store, text: str, batch_size: int) -> None:
    parsed = read_contacts(text.splitlines(keepends=True), name="c.csv", kind="csv")
    import_contacts(store, parsed, now=datetime(2026, 11, 23, tzinfo=UTC), batch_size=batch_size)


def test_a_full_disk_rolls_the_batch_back_and_a_rerun_goes_on(tmp_path: Path) -> None:
    """A full disk, as SQLite reports it: the database may not grow past max_page_count."""
    with open_store(tmp_path / "seqctl.db") as store:
        imported(store, rows(100), batch_size=100)
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count={pages + 4}")
        with pytest.raises(DatabaseError) as full:
            imported(store, rows(3000, 100), batch_size=100)
        assert str(full.value).startswith(f"{tmp_path / 'seqctl.db'}: {FULL}")
        kept = store.count_contacts()
        assert 100 <= kept < 3000 and kept % 100 == 0  # whole batches only
        assert not store.db.conn.in_transaction
        store.db.execute("PRAGMA max_page_count=1073741823")
        imported(store, rows(3000), batch_size=100)  # the same file again: it goes on
        assert store.count_contacts() == 3000


def test_a_read_only_connection_refuses_writes_and_keeps_serving_reads(tmp_path: Path) -> None:
    """Read-only as SQLite reports it, whoever runs the test (root writes a 0444 file)."""
    with open_store(tmp_path / "seqctl.db") as store:
        imported(store, rows(10), batch_size=100)
        store.db.execute("PRAGMA query_only=ON")
        with pytest.raises(DatabaseError) as refused:
            imported(store, rows(20), batch_size=100)
        assert str(refused.value).startswith(f"{tmp_path / 'seqctl.db'}: {READ_ONLY}")
        assert store.count_contacts() == 10


def test_a_locked_database_met_by_every_shard_of_a_big_tick_is_said_once(
    launch: Launch, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = launch({"hi": auto_playbook("hi", HELLO)}, "key\na\nb\nc\nd\n")
    assert run(NOW, "enroll", "hi", "--file", "c.csv").exit_code == 0
    monkeypatch.setattr(shards, "PARALLEL_FROM", 1)  # shard even this small tick
    monkeypatch.setattr(shards, "_cores", lambda: 2)

    def locked(self: TickRun, store: Store, shard: tuple[int, int], progress: object) -> None:
        error = sqlite3.OperationalError("database is locked")  # as a read in a worker meets it
        error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
        raise error

    monkeypatch.setattr(TickRun, "advance_shard", locked)
    result = run(NOW, "tick")
    assert (result.exit_code, result.stderr) == (2, f"seqctl: {project / 'seqctl.db'}{LOCKED}")


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """path (a file or a folder) marked immutable: not even root may change it (chattr +i)."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("chattr +i needs root")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("this file system has no immutable files")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_database_in_a_folder_nothing_may_change_is_read_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    with open_store(folder / "seqctl.db") as store:
        imported(store, rows(3), batch_size=100)
    assert sorted(p.name for p in folder.iterdir()) == ["seqctl.db"]  # no -wal, no -shm
    with immutable(folder):
        with open_store(folder / "seqctl.db") as store:  # SQLite cannot make its -shm here
            assert store.count_contacts() == 3
            with pytest.raises(DatabaseError, match=re.escape(READ_ONLY)):
                imported(store, rows(5), batch_size=100)
        with pytest.raises(DatabaseError) as refused:
            open_store(folder / "new.db")
    assert str(refused.value) == (
        f"{folder / 'new.db'}: cannot create the database in {folder} (a read-only folder or "
        "disk?); point --db, SEQCTL_DB or seqctl.yaml's `database` where seqctl can write"
    )


def test_a_read_only_database_that_needs_an_upgrade_says_so_and_stays_as_it_was(
    tmp_path: Path,
) -> None:
    database = tmp_path / "seqctl.db"
    open_store(database).close()
    with sqlite3.connect(database) as conn:  # as seqctl before its latest migration left it
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm008_sending_index'")
        conn.execute("DROP INDEX messages_sending")
    conn.close()
    before = digest(database)
    with immutable(database), pytest.raises(DatabaseError) as refused:
        open_store(database)
    assert str(refused.value) == (
        f"{database}: the database needs 1 schema change(s) for this seqctl but is read-only; "
        "make it and its folder writable and run any seqctl command once"
    )
    assert digest(database) == before
    with open_store(database) as store:  # writable again: upgraded
        applied = store.db.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0]
        assert applied == len(migrations._migrations)


def test_a_migrations_table_of_another_kind_is_another_programs(tmp_path: Path) -> None:
    theirs = tmp_path / "app.db"
    with sqlite3.connect(theirs) as conn:
        conn.execute("CREATE TABLE _sqlite_migrations (version INTEGER)")
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    conn.close()
    with pytest.raises(DatabaseError, match=r"another program's \(tables: orders\)"):
        open_store(theirs)
