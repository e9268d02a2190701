"""A PostgreSQL database that cannot be used says why in one line naming user, host, port and
database (never a password), exit 2; nothing is half-written and nothing foreign is touched."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqctl.cli import app
from seqctl.errors import DatabaseError
from seqctl.store import open_store
from seqctl.timeutil import from_db

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")


def seqctl(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_server_is_named_with_exit_2(bare: Path) -> None:
    port = closed_port()
    code, said = seqctl("--db", f"postgresql://ops@127.0.0.1:{port}/crm", "status")
    assert code == 2
    assert f"postgresql://ops@127.0.0.1:{port}/crm" in said
    assert "cannot reach the server" in said
    assert "Traceback" not in said


def test_a_password_in_the_url_is_refused_and_never_shown(bare: Path) -> None:
    code, said = seqctl("--db", "postgresql://ops:hunter2@127.0.0.1/crm", "status")
    assert code == 2
    assert "PGPASSWORD" in said
    assert "hunter2" not in said


def test_a_missing_password_variable_is_named(
    bare: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_DB_PASSWORD", raising=False)
    (bare / "seqctl.yaml").write_text(
        f"database: {postgres_url}\npassword_env: CRM_DB_PASSWORD\n", encoding="utf-8"
    )
    code, said = seqctl("status")
    assert code == 2
    assert "CRM_DB_PASSWORD" in said


def test_another_programs_database_is_refused_and_left_untouched(
    bare: Path, postgres_url: str
) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    code, said = seqctl("--db", postgres_url, "status")
    assert code == 2
    assert "not a seqctl database" in said and "invoices" in said
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    assert tables == [("invoices",)]


def test_a_database_a_newer_seqctl_migrated_is_refused(bare: Path, postgres_url: str) -> None:
    open_store(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO seqctl_migrations (name) VALUES ('m999_from_the_future')")
    code, said = seqctl("--db", postgres_url, "status")
    assert code == 2
    assert "newer seqctl" in said and "m999_from_the_future" in said


def test_a_connection_lost_in_the_middle_rolls_back_and_says_so(
    postgres_url: str, postgres_server: str
) -> None:
    store = open_store(postgres_url)
    try:
        with pytest.raises(DatabaseError, match="ended the connection|lost the connection"):
            with store.transaction():
                store.create_sequence("half-written", from_db("2026-11-23T08:00:00Z"))
                pid = store.pg.run("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[attr-defined]
                with psycopg.connect(postgres_server, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
                store.sequences()
    finally:
        store.close()
    with open_store(postgres_url) as again:  # the next run goes on; nothing was half-written
        assert again.sequences() == []
