from __future__ import annotations

import json
import os
import sqlite3
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seqctl.cli import app
from seqctl.store import open_store
from tests.servers import postgres


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def _unformatted(value: object) -> str:
    """The store writes times as fixed-width UTC text; a datetime handed to the driver as it
    is would be stored in another spelling, silently. In tests it fails loudly instead."""
    raise TypeError(f"a time reached the database unformatted: {value!r} (use format_instant)")


sqlite3.register_adapter(datetime, _unformatted)
sqlite3.register_adapter(date, _unformatted)
try:
    import psycopg
    from psycopg.adapt import Dumper

    class _UnformattedDumper(Dumper):
        def dump(self, obj: Any) -> bytes:
            _unformatted(obj)
            return b""

    for _kind in (datetime, date):
        psycopg.adapters.register_dumper(_kind, _UnformattedDumper)
except ImportError:  # the PostgreSQL extra is not installed: its tests skip
    pass


Run = Callable[..., Result]
Write = Callable[[str, str], Path]
Launch = Callable[..., Run]


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder as the current directory, with no seqctl settings leaking in."""
    for name in ("SEQCTL_DB", "SEQCTL_NOW", "SEQCTL_CONFIG", "GITHUB_ACTIONS", "SEQCTL_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# Both stores, for a module whose tests run on each: `pytestmark = BOTH_STORES`.
STORES = ("sqlite", "postgresql")
BOTH_STORES = pytest.mark.parametrize("store_kind", STORES, indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which store `project` uses: SQLite unless the module asks for both (BOTH_STORES)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def project(
    bare: Path, store_kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A project folder as the current directory: playbooks/ and its database (./seqctl.db,
    as `seqctl db init` makes it, or an empty PostgreSQL database named by SEQCTL_DB), no
    seqctl settings leaking in."""
    (bare / "playbooks").mkdir()
    if store_kind == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
        monkeypatch.setenv("SEQCTL_DB", url)
        open_store(url).close()
    else:
        open_store(bare / "seqctl.db").close()
    return bare


@pytest.fixture
def run(project: Path) -> Run:
    """Run the CLI in the project folder; exceptions that are bugs propagate."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def write(project: Path) -> Write:
    """Write a dedented file under the project folder."""

    def writer(relative: str, content: str) -> Path:
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
        return path

    return writer


@pytest.fixture
def launch(run: Run, write: Write) -> Launch:
    """Set a project going: write playbooks and contacts, publish, activate, import.

    `playbooks` maps each sequence id to its playbook text (written to playbooks/<id>.yaml);
    `contacts` is a CSV. Publishing happens at `at`; every step must succeed. Returns `run`.
    """

    def launcher(
        playbooks: dict[str, str],
        contacts: str,
        *,
        csv: str = "c.csv",
        at: str = "2026-11-23T08:00:00Z",
        activate: bool = True,
    ) -> Run:
        for sequence, text in playbooks.items():
            write(f"playbooks/{sequence}.yaml", text)
        write(csv, contacts)
        published = run(f"--now={at}", "publish")
        assert published.exit_code == 0, published.stdout + published.stderr
        for sequence in playbooks if activate else ():
            assert run("activate", sequence).exit_code == 0
        assert run("contacts", "import", csv).exit_code == 0
        return run

    return launcher


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL superuser's URL for the whole session: SEQCTL_TEST_POSTGRES's server when
    set, else a throwaway cluster started on first use. Without one, the test is skipped."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[postgres]')")
    external = os.environ.get("SEQCTL_TEST_POSTGRES")
    if external:
        yield external
        return
    try:
        cluster = postgres.start()
    except postgres.PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    yield cluster.url
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The URL of an empty database of this test's own, dropped afterwards."""
    url = postgres.create_database(postgres_server)
    yield url
    postgres.drop_database(postgres_server, url)
