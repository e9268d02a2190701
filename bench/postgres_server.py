"""A throwaway PostgreSQL cluster on 127.0.0.1, for the tests of the PostgreSQL store and for
the PostgreSQL benchmark (bench/postgres.py; the tests load it through tests/servers/postgres.py).

Debian's `postgresql` package (the Makefile's `test` target installs it when missing and run as
root): its `initdb` and `pg_ctl` under /usr/lib/postgresql/<version>/bin, the highest version,
or the ones on PATH. The cluster lives in a temporary folder of its own, in memory when there is
a tmpfs, and is built for speed, not safety: no fsync, no full-page writes, trust for
127.0.0.1 only and a unix socket inside the folder. PostgreSQL will not run as root, so under
root the cluster belongs to the `postgres` user the package creates; otherwise to whoever runs it.

Each test takes an empty database of its own (`create_database`, copied from template0), which
works the same on a server someone already runs (the tests' SEQCTL_TEST_POSTGRES).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

START_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5
SYSTEM_USER = "postgres"  # who owns the cluster when we are root (Debian's package creates it)
DATABASE_PREFIX = "seqctl_test_"

# Test speed over durability: a crash loses the cluster, which is thrown away anyway.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


class PostgresUnavailable(Exception):
    """PostgreSQL is not installed, cannot run here, or did not start; the message says why."""


@dataclass
class Postgres:
    """A running cluster: its folder, where it listens, who owns it, its programs."""

    root: Path
    port: int
    bin: Path
    run_as: str

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        """The superuser's URL, on its maintenance database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def log(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the server at once (nothing of it needs to survive) and remove its folder."""
        stopped = _run_as(self.run_as, self.root, str(self.bin / "pg_ctl"), "stop",
                          "-D", str(self.data), "-m", "immediate", "-w")  # fmt: skip
        if stopped.returncode != 0:
            _kill_postmaster(self.data)
        shutil.rmtree(self.root, ignore_errors=True)


def binaries() -> Path | None:
    """The folder of `initdb` and `pg_ctl`: Debian's highest version, else the ones on PATH."""
    debian = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (path.parent / "pg_ctl").exists()
    ]
    if debian:
        return max(debian, key=lambda folder: _version(folder.parent.name))
    found = shutil.which("initdb")
    if found is not None and (Path(found).resolve().parent / "pg_ctl").exists():
        return Path(found).resolve().parent
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


def unavailable() -> str | None:
    """Why no cluster can be started here, or None when one can be tried."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]'; make test does it)"
    if binaries() is None:
        return "PostgreSQL is not installed (apt-get install postgresql; make test does it as root)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            return f"running as root, but there is no {SYSTEM_USER!r} user to run PostgreSQL as"
    return None


def start() -> Postgres:
    """Start a cluster; PostgresUnavailable (with the reason) when it cannot be."""
    reason = unavailable()
    if reason is not None:
        raise PostgresUnavailable(reason)
    folder = binaries()
    assert folder is not None
    run_as = SYSTEM_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    # Not under pytest's own temporary folder: under root that one is closed to other users.
    shm = Path("/dev/shm")
    memory = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="seqctl-postgres-", dir=memory))
    if os.geteuid() == 0:
        account = pwd.getpwnam(run_as)
        os.chown(root, account.pw_uid, account.pw_gid)
    server = Postgres(root, _free_port(), folder, run_as)
    try:
        _initdb(server)
        _configure(server)
        _start(server)
        _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _initdb(server: Postgres) -> None:
    made = _run_as(server.run_as, server.root, str(server.bin / "initdb"), "-D", str(server.data),
                   "-U", "postgres", "--auth=trust", "--no-locale", "--encoding=UTF8",
                   "--no-sync", "--no-instructions")  # fmt: skip
    if made.returncode != 0:
        raise PostgresUnavailable(f"initdb failed: {(made.stdout + made.stderr).strip()[-500:]}")


def _configure(server: Postgres) -> None:
    """Our settings after initdb's (the last one wins), and trust on 127.0.0.1 alone."""
    settings = {**SETTINGS, "port": str(server.port), "unix_socket_directories": f"'{server.root}'"}
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write("\n# seqctl's test cluster\n")
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
    (server.data / "pg_hba.conf").write_text(
        "local all all trust\nhost all all 127.0.0.1/32 trust\n"
    )


def _start(server: Postgres) -> None:
    started = _run_as(server.run_as, server.root, str(server.bin / "pg_ctl"), "start",
                      "-D", str(server.data), "-l", str(server.root / "postgres.log"),
                      "-w", "-t", str(int(START_TIMEOUT)))  # fmt: skip
    if started.returncode != 0:
        output = (started.stdout + started.stderr + server.log()).strip()
        raise PostgresUnavailable(f"PostgreSQL did not start: {output[-500:]}")


def _wait_until_ready(server: Postgres) -> None:
    """Until a client gets in over TCP, as the tests will (pg_ctl's wait used the socket)."""
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            psycopg.connect(server.url, connect_timeout=CONNECT_TIMEOUT).close()
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"PostgreSQL did not accept connections: {exc}") from exc
        time.sleep(0.05)


def _run_as(user: str, cwd: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program as the cluster's owner, in the cluster's folder (the owner may
    not be allowed into ours), with no PG* variables steering it elsewhere."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
    env["LC_ALL"] = "C"
    return subprocess.run(
        list(command),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,  # pg_ctl hands the server the log file (-l), not these pipes
        text=True,
        timeout=START_TIMEOUT + 10,
        check=False,
        **_as_user(user),
    )


def _as_user(name: str) -> dict[str, Any]:
    """subprocess arguments that run a command as this user, group included, when we are root."""
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam(name)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _kill_postmaster(data: Path) -> None:
    """When pg_ctl could not stop it: the server whose pid our own data folder records."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError, IndexError):
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def create_database(admin_url: str) -> str:
    """A new empty database with a name of its own, on the server of `admin_url` (a superuser's
    or a role allowed to CREATE DATABASE); its URL."""
    import psycopg
    from psycopg import sql

    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as admin:
        # template0: nothing anybody added to template1, and no session can be holding it.
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database of `url` (made by `create_database`), closing what is still connected."""
    import psycopg
    from psycopg import sql

    name = database_of(url)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def with_database(url: str, name: str) -> str:
    """The same server and role as `url`, on another database."""
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        return urlunsplit(parts._replace(path="/" + quote(name, safe="")))
    from psycopg.conninfo import make_conninfo  # a key=value connection string

    return make_conninfo(url, dbname=name)


def database_of(url: str) -> str:
    """The database a URL (or key=value connection string) names."""
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        return unquote(parts.path.lstrip("/"))
    from psycopg.conninfo import conninfo_to_dict

    return str(conninfo_to_dict(url)["dbname"])
