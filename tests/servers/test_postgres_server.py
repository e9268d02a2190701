"""The tests' own PostgreSQL: a throwaway cluster on 127.0.0.1, an empty database per test."""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest

from tests.servers import postgres

psycopg: Any = pytest.importorskip("psycopg", reason="psycopg is not installed")

USER_OBJECTS = """
    SELECT count(*) FROM pg_class JOIN pg_namespace ON pg_namespace.oid = relnamespace
    WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\\_%'
"""


def query(url: str, sql: str) -> Any:
    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(sql).fetchone()[0]


def execute(url: str, sql: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql)


def refused(host: str, port: int) -> bool:
    try:
        psycopg.connect(host=host, port=port, user="postgres", dbname="postgres",
                        connect_timeout=2).close()  # fmt: skip
    except psycopg.OperationalError:
        return True
    return False


def test_each_database_is_empty_and_its_own(postgres_server: str, postgres_url: str) -> None:
    other = postgres.create_database(postgres_server)
    try:
        assert postgres.database_of(other) != postgres.database_of(postgres_url)
        assert query(postgres_url, "SELECT current_database()") == postgres.database_of(
            postgres_url
        )
        assert query(postgres_url, USER_OBJECTS) == 0
        assert query(other, USER_OBJECTS) == 0
        execute(postgres_url, "CREATE TABLE contacts (id int)")
        assert query(postgres_url, USER_OBJECTS) == 1
        assert query(other, USER_OBJECTS) == 0
    finally:
        postgres.drop_database(postgres_server, other)


def test_a_dropped_database_is_gone(postgres_server: str) -> None:
    url = postgres.create_database(postgres_server)
    postgres.drop_database(postgres_server, url)
    name = postgres.database_of(url)
    assert query(postgres_server, f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == 0


def test_the_cluster_lets_in_127_0_0_1_alone(postgres_server: str) -> None:
    if os.environ.get("SEQCTL_TEST_POSTGRES"):
        pytest.skip("SEQCTL_TEST_POSTGRES: a server of someone else's, configured as they chose")
    port = int(query(postgres_server, "SHOW port"))
    assert query(postgres_server, "SHOW listen_addresses") == "127.0.0.1"
    assert not refused("127.0.0.1", port)
    assert refused("127.0.0.2", port)  # loopback too, but not the address it listens on
    outward = _outward_address()
    if outward is not None:
        assert refused(outward, port)


def test_stop_removes_the_cluster() -> None:
    reason = postgres.unavailable()
    if reason is not None:
        pytest.skip(f"no PostgreSQL server: {reason}")
    cluster = postgres.start()
    assert query(cluster.url, "SELECT 1") == 1
    cluster.stop()
    assert not cluster.root.exists()
    assert refused("127.0.0.1", cluster.port)


def _outward_address() -> str | None:
    """This machine's address towards the rest of the network, when it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a documentation address: nothing is sent
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address
