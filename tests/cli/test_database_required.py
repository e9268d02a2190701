"""Only `init` and `db init` make a database: every other command needs one that exists."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqctl.cli import app
from tests.conftest import Result, Run

NOW = "--now=2026-11-23T13:00:00Z"


@pytest.fixture
def run(bare: Path) -> Run:
    """The CLI in an empty folder: no database made for it."""

    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.mark.parametrize(
    "command",
    [
        ["tick"],
        ["enrollments"],
        ["status"],
        ["publish"],
        ["contacts", "show", "ana"],
        ["sequences", "list"],
        ["approvals"],
        ["event", "reply", "--contact", "ana"],
    ],
)
def test_a_command_in_an_empty_folder_says_where_it_looked(
    run: Run, bare: Path, command: list[str]
) -> None:
    result = run(NOW, *command)

    assert result.exit_code == 2
    assert result.stderr.startswith(f"seqctl: no database at {bare / 'seqctl.db'} (the default:")
    assert "seqctl db init" in result.stderr and "--db" in result.stderr
    assert list(bare.iterdir()) == []  # nothing created


def test_a_playbook_file_is_drawn_without_a_database(run: Run, bare: Path) -> None:
    (bare / "hello.yaml").write_text(
        "sequence: hello\nsteps:\n  - id: hi\n    type: email\n    subject: Hi\n    body: Hi\n"
    )

    drawn = run("graph", "hello.yaml")

    assert drawn.exit_code == 0 and "hi: email" in drawn.stdout
    assert sorted(p.name for p in bare.iterdir()) == ["hello.yaml"]  # nothing created
    assert run("graph", "hello").exit_code == 2  # a published sequence needs the database


def test_a_mistyped_db_path_is_named(run: Run, bare: Path) -> None:
    result = run("--db", str(bare / "seqctl-prod.db"), NOW, "tick")

    assert result.exit_code == 2
    assert f"no database at {bare / 'seqctl-prod.db'} (from --db or SEQCTL_DB)" in result.stderr
    assert not (bare / "seqctl-prod.db").exists()


def test_the_configured_database_is_named_with_its_file(run: Run, bare: Path) -> None:
    (bare / "seqctl.yaml").write_text("database: data/prod.db\n", "utf-8")
    (bare / "data").mkdir()

    result = run(NOW, "tick")

    assert result.exit_code == 2
    assert f"no database at {bare / 'data' / 'prod.db'} (from `database` in" in result.stderr


def test_db_init_creates_it_once_and_then_commands_work(run: Run, bare: Path) -> None:
    created = run("db", "init")
    again = run("db", "init")

    assert (created.exit_code, created.stdout) == (0, f"created: {bare / 'seqctl.db'}\n")
    assert (again.exit_code, again.stdout) == (0, f"database is ready: {bare / 'seqctl.db'}\n")
    assert run(NOW, "tick", "--json").exit_code == 0


def test_init_creates_the_database_and_git_ignores_what_holds_people_s_data(
    run: Run, bare: Path
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    result = run("init", "acme")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-2:] == ["created acme/.gitignore", "created acme/seqctl.db"]
    repo = bare / "acme"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    # what a first tick leaves beside the database: its write-ahead files and the outbox
    for name in ("seqctl.db-wal", "seqctl.db-shm", "outbox.jsonl", ".env", "smtp.env"):
        (repo / name).write_text("ana@acme.test\n", "utf-8")

    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    assert "seqctl.db" not in status and "outbox.jsonl" not in status
    assert not [name for name in status if name.endswith((".db-wal", ".db-shm", ".env"))]
    assert {".gitignore", "seqctl.yaml", "playbooks/intro.yaml", "contacts.csv"} <= set(status)


def test_db_info_says_which_store_schema_and_counts(run: Run, bare: Path) -> None:
    from seqctl.store.sqlite.migrations import migrations

    assert run("db", "init").exit_code == 0
    (bare / "c.csv").write_text("key,email\nana,ana@x.test\nbob,bob@x.test\n", "utf-8")
    assert run(NOW, "contacts", "import", "c.csv").exit_code == 0

    shown = run("db", "info", "--json")
    text = run("db", "info").stdout.splitlines()

    assert shown.exit_code == 0
    found = shown.json
    last = migrations._migrations[-1].name
    assert (found["store"], found["schema"]) == ("sqlite", last)
    assert found["migrations"] == len(migrations._migrations)
    assert found["location"] == str(bare / "seqctl.db")
    assert found["counts"]["contacts"] == 2 and found["counts"]["enrollments"] == 0
    assert text[0].startswith(f"store: sqlite ({bare / 'seqctl.db'}, ")
    assert text[1] == f"schema: {last} ({len(migrations._migrations)} migrations)"
    assert "contacts: 2" in text
