"""The first cron minute: many commands started at once on a database with no schema yet (an
empty file a provisioning step made, or `seqctl db init` run by several hosts at once; a
database that does not exist at all is refused by every command but `init` and `db init`).

Each process loads seqctl, then waits at a starting line; all are let go at once, so they
reach the new database within a millisecond or two of each other. Before migrations were
applied in one transaction under the write lock, this test failed four times in four (a
'database is locked', or an index that 'already exists' because two processes applied the
same migration); without the starting line, 3 to 6 starts in 144 failed.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from seqctl.store.sqlite.migrations import migrations

ROUNDS = 2
COMMANDS = (
    (("db", "init"), 0),
    (("tick",), 0),
    (("contacts", "import", "c.csv"), 0),
    (("enroll", "welcome", "--contact", "a"), 2),  # no such sequence yet: refused, as it should
    (("status",), 0),
    (("enrollments",), 0),
    (("messages",), 0),
)
PROCESSES = 10
# Load everything the command needs, wait for the start, then run it as `seqctl ARGS` would.
STARTER = (
    "import sys\n"
    "from seqctl.cli import COMMANDS, command_of, load, main\n"
    "load(COMMANDS.get(command_of(sys.argv[1:]) or ''))\n"
    "sys.stdin.read()\n"
    "sys.argv[0] = 'seqctl'\n"
    "main()\n"
)


def test_commands_started_together_on_a_new_database_all_work_and_migrate_it_once(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
    env["SEQCTL_NOW"] = "2026-11-23T08:00:00Z"
    for round_ in range(ROUNDS):
        folder = tmp_path / f"round-{round_}"
        folder.mkdir()
        (folder / "c.csv").write_text("key,email\na,a@example.com\nb,b@example.com\n")
        env["SEQCTL_DB"] = str(folder / "seqctl.db")
        (folder / "seqctl.db").touch()  # there, but no schema: the commands race to make it
        started = [COMMANDS[i % len(COMMANDS)] for i in range(PROCESSES)]
        # One pipe is everyone's standard input: closing its end is the starting shot.
        line, shot = os.pipe()
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", STARTER, *args],
                cwd=folder,
                env=env,
                stdin=line,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args, _ in started
        ]
        os.close(line)
        os.close(shot)
        for (args, expected), process in zip(started, processes, strict=True):
            out, err = process.communicate(timeout=120)
            assert process.returncode == expected, (args, err)
            for sign in ("locked", "duplicate", "already exists", "Traceback"):
                assert sign not in err, (args, err)
        with sqlite3.connect(folder / "seqctl.db") as conn:
            applied = [name for (name,) in conn.execute("SELECT name FROM _sqlite_migrations")]
            contacts = conn.execute("SELECT COUNT(*) FROM contacts").fetchone()[0]
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        conn.close()
        assert applied == [m.name for m in migrations._migrations]  # each once, in order
        assert (contacts, mode) == (2, "wal")
