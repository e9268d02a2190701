"""bench/postgres.py runs end to end on a tiny dataset against the tests' PostgreSQL server
(skipped, with the reason, when there is none)."""

from __future__ import annotations

from tests.bench_scripts import run_bench


def test_postgres_bench_runs_every_stage_beside_its_floor(postgres_server: str) -> None:
    lines, _ = run_bench(
        "postgres.py", "--count", "300", "--workers", "1,2", "--json",
        "--server", postgres_server, timeout=300,
    )  # fmt: skip
    assert [(line["stage"], line["workers"]) for line in lines] == [
        ("import", 1),
        ("enroll", 1),
        ("tick", 1),
        ("tick", 2),
    ]
    for line in lines:
        assert line["count"] == 300
        assert line["seqctl_seconds"] > 0 and line["floor_seconds"] > 0
        assert line["ratio"] > 0 and line["per_second"] > 0
