"""Benchmark seqctl on PostgreSQL against a plain psycopg floor, side by side in the same run.

    python bench/postgres.py [--count 100000] [--workers 1,2,4] [--json] [--server URL]

Starts a throwaway PostgreSQL cluster (bench/postgres_server.py: in memory when /dev/shm is
there, fsync off), or uses the server of `--server` (a superuser's URL, or a role that may
CREATE DATABASE). Each stage runs the real `seqctl` command (fresh processes, start-up
included) on one database and its floor (bench/postgres_floor.py, also a fresh process) on
another that went through the same steps:

- import: `seqctl contacts import contacts.csv` of N contacts, against the store's own upsert
  statement executemany'd by psycopg in batches of the same size (10,000).
- enroll: `seqctl enroll bench-task --file keys.txt` of the N, against INSERT ... SELECT.
- tick: N due enrollments (a one-step playbook whose step is a task: the tick writes an action
  and a history row per enrollment, no message goes out, so no channel's output is measured),
  `seqctl tick` in 1, 2 and 4 processes started at once with the same --now, against as many
  psycopg workers claiming batches of 1,000 with FOR UPDATE SKIP LOCKED, writing the same rows.
  Each worker count gets fresh copies of the enrolled database (CREATE DATABASE ... TEMPLATE).

Wall time from the first process's start to the last one's exit. `ratio` is floor seconds /
seqctl seconds (1.0: as fast as the floor; higher is better). A table on stdout, or one JSON
line a row with --json. A command that fails or whose counts do not add up stops the run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import postgres_server
from measure import BenchFailure, clean_env, seqctl_command
from workload import contacts, write_csv, write_keys

ENROLL_AT = "2026-11-23T12:00:00Z"
TICK_AT = "2026-11-24T12:00:00Z"
SEQUENCE = "bench-task"
FLOOR = Path(__file__).resolve().parent / "postgres_floor.py"
REPO = FLOOR.parents[1]
PLAYBOOK = """\
# Benchmark: one task per contact, made by the tick; nothing is sent.
sequence: bench-task
name: Benchmark - one task
description: A task for a person per contact.
target: contact
owner: ana@acme.test
visibility: company
timezone: UTC
steps:
  - id: call
    type: task
    instructions: "Call {{ contact.first_name | default('them') }} at \
{{ contact.company | default('their company') }}."
"""


@dataclass(frozen=True)
class Row:
    stage: str
    workers: int
    count: int
    seqctl_seconds: float
    floor_seconds: float

    @property
    def ratio(self) -> float:
        return self.floor_seconds / self.seqctl_seconds

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "ratio": round(self.ratio, 3),
            "per_second": round(self.count / self.seqctl_seconds, 1),
            "floor_per_second": round(self.count / self.floor_seconds, 1),
        }


class Bench:
    """The project folder, the data files, the server; runs seqctl and the floor."""

    def __init__(self, root: Path, admin_url: str, count: int) -> None:
        self.root = root
        self.admin_url = admin_url
        self.count = count
        self.command = seqctl_command()
        self.databases: list[str] = []

    @property
    def project(self) -> Path:
        return self.root / "project"

    def database(self, template: str | None = None) -> str:
        """A new database of the run's own: empty, or a copy of another (no one connected)."""
        if template is None:
            url = postgres_server.create_database(self.admin_url)
        else:
            url = _copy(self.admin_url, template)
        self.databases.append(url)
        return url

    def drop(self, url: str) -> None:
        postgres_server.drop_database(self.admin_url, url)
        self.databases.remove(url)

    def seqctl(self, url: str, *args: str, now: str = ENROLL_AT) -> list[str]:
        return [*self.command, "--db", url, "--now", now, *args]

    def floor(self, stage: str, url: str, *args: str) -> list[str]:
        return [sys.executable, str(FLOOR), stage, "--url", url, *args]


def _copy(admin_url: str, template: str) -> str:
    import psycopg
    from psycopg import sql

    name = f"{postgres_server.DATABASE_PREFIX}{time.monotonic_ns():x}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(postgres_server.database_of(template))
            )
        )
    return postgres_server.with_database(admin_url, name)


def run_at_once(commands: list[list[str]], cwd: Path) -> tuple[float, list[str]]:
    """Start every command at once; wall seconds until the last exits, and their outputs."""
    outputs = [tempfile.TemporaryFile() for _ in commands]
    errors = [tempfile.TemporaryFile() for _ in commands]
    env = clean_env()  # this repository's seqctl, whichever one the environment installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        for command, out, err in zip(commands, outputs, errors, strict=True)
    ]
    codes = [proc.wait() for proc in procs]
    seconds = time.perf_counter() - start
    texts = []
    for command, code, out, err in zip(commands, codes, outputs, errors, strict=True):
        out.seek(0)
        err.seek(0)
        text, said = out.read().decode(), err.read().decode()
        out.close()
        err.close()
        if code != 0:
            raise BenchFailure(f"{' '.join(command)}\nexit code {code}\n{(said or text)[-2000:]}")
        texts.append(text)
    return seconds, texts


def check(bench: Bench, command: list[str]) -> str:
    return run_at_once([command], bench.project)[1][0]


def require(condition: bool, what: str) -> None:
    if not condition:
        raise BenchFailure(what)


def prepare(bench: Bench) -> tuple[str, str]:
    """The project, the data files, and two databases with the bench playbook active."""
    bench.project.parent.mkdir(parents=True, exist_ok=True)
    run_at_once([[*bench.command, "init", str(bench.project)]], bench.root)
    (bench.project / "playbooks" / f"{SEQUENCE}.yaml").write_text(PLAYBOOK, encoding="utf-8")
    write_csv(bench.root / "contacts.csv", contacts(bench.count))
    write_keys(bench.root / "keys.txt", contacts(bench.count))
    urls = bench.database(), bench.database()
    for url in urls:
        check(bench, bench.seqctl(url, "db", "init"))
        check(bench, bench.seqctl(url, "publish", "--by", "bench@acme.test"))
        check(bench, bench.seqctl(url, "activate", SEQUENCE))
    return urls


def stage_import(bench: Bench, mine: str, floor: str) -> Row:
    csv_path = str(bench.root / "contacts.csv")
    seconds, (out,) = run_at_once(
        [bench.seqctl(mine, "contacts", "import", csv_path, "--json")], bench.project
    )
    require(json.loads(out).get("created") == bench.count, f"seqctl import: {out}")
    floor_seconds, (said,) = run_at_once(
        [bench.floor("import", floor, "--csv", csv_path, "--at", ENROLL_AT)], bench.project
    )
    require(json.loads(said)["rows"] == bench.count, f"floor import: {said}")
    return Row("import", 1, bench.count, seconds, floor_seconds)


def stage_enroll(bench: Bench, mine: str, floor: str) -> Row:
    keys = str(bench.root / "keys.txt")
    seconds, (out,) = run_at_once(
        [bench.seqctl(mine, "enroll", SEQUENCE, "--file", keys, "--json")], bench.project
    )
    require(json.loads(out).get("enrolled") == bench.count, f"seqctl enroll: {out}")
    floor_seconds, (said,) = run_at_once(
        [bench.floor("enroll", floor, "--keys", keys, "--sequence", SEQUENCE, "--at", ENROLL_AT)],
        bench.project,
    )
    require(json.loads(said)["rows"] == bench.count, f"floor enroll: {said}")
    return Row("enroll", 1, bench.count, seconds, floor_seconds)


def stage_tick(bench: Bench, enrolled: str, workers: int) -> Row:
    mine, floor = bench.database(enrolled), bench.database(enrolled)
    # One process a worker, as the floor's (a tick forks one per core by default).
    tick = bench.seqctl(mine, "tick", "--json", "--workers", "1", now=TICK_AT)
    seconds, outs = run_at_once([tick] * workers, bench.project)
    reports = [json.loads(out) for out in outs]
    require(
        sum(r["due"] for r in reports) == bench.count
        and sum(r["actions"] for r in reports) == bench.count
        and not any(r.get("busy") for r in reports),
        f"seqctl tick x{workers}: {reports}",
    )
    require(_actions(mine) == bench.count, f"seqctl tick x{workers}: actions in the database")
    commands = [
        bench.floor("tick", floor, "--now", TICK_AT, "--holder", f"floor-{n}")
        for n in range(workers)
    ]
    floor_seconds, said = run_at_once(commands, bench.project)
    require(sum(json.loads(line)["rows"] for line in said) == bench.count, f"floor tick: {said}")
    require(_actions(floor) == bench.count, f"floor tick x{workers}: actions in the database")
    bench.drop(mine)
    bench.drop(floor)
    return Row("tick", workers, bench.count, seconds, floor_seconds)


def _actions(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM actions").fetchone()
    return int(row[0]) if row else 0


def _analyze(url: str) -> None:
    """Fresh statistics on the enrolled database, which both sides' copies inherit."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def table(rows: list[Row]) -> str:
    lines = [
        "| stage | workers | seqctl s | floor s | ratio (floor/seqctl) | rows/s (seqctl) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.stage} | {r.workers} | {r.seqctl_seconds:.2f} | {r.floor_seconds:.2f}"
        f" | {r.ratio:.2f} | {r.count / r.seqctl_seconds:,.0f} |"
        for r in rows
    ]
    return "\n".join(lines)


def run(bench: Bench, workers: list[int], as_json: bool) -> list[Row]:
    rows: list[Row] = []

    def done(row: Row) -> None:
        rows.append(row)
        if as_json:
            print(json.dumps(row.as_json()), flush=True)
        else:
            print(f"{row.stage} x{row.workers}: {row.seqctl_seconds:.2f} s"
                  f" (floor {row.floor_seconds:.2f} s)", file=sys.stderr, flush=True)  # fmt: skip

    mine, floor = prepare(bench)
    done(stage_import(bench, mine, floor))
    done(stage_enroll(bench, mine, floor))
    bench.drop(floor)
    _analyze(mine)
    for count in workers:
        done(stage_tick(bench, mine, count))
    return rows


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="contacts (default 100,000)")
    parser.add_argument(
        "--workers", default="1,2,4", help="tick processes at once, a list (default 1,2,4)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line a row, no table")
    parser.add_argument("--server", help="a PostgreSQL superuser's URL (default: start a cluster)")
    args = parser.parse_args(argv)
    try:
        args.workers = [int(n) for n in args.workers.split(",")]
    except ValueError:
        parser.error("--workers: a comma-separated list of numbers")
    if args.count < 1 or not args.workers or min(args.workers) < 1:
        parser.error("--count and --workers must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cluster = None
    admin_url = args.server
    if admin_url is None:
        try:
            cluster = postgres_server.start()
        except postgres_server.PostgresUnavailable as exc:
            print(f"no PostgreSQL server: {exc}", file=sys.stderr)
            return 2
        admin_url = cluster.url
    with tempfile.TemporaryDirectory(prefix="seqctl-pgbench-") as folder:
        bench = Bench(Path(folder), admin_url, args.count)
        try:
            rows = run(bench, args.workers, args.json)
        except BenchFailure as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
        finally:
            for url in list(bench.databases):
                bench.drop(url)
            if cluster is not None:
                cluster.stop()
    if not args.json:
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
