"""The issue's acceptance scenario: a team starts on SQLite, moves to a PostgreSQL server with
`db copy`, then runs ticks from several processes at once, as if on several machines, with
contacts in several time zones, approvals, caps and replies arriving between ticks, and a
worker killed mid-run. The schedule, the messages and the counts match what the same work
gives on SQLite, with nothing lost and nothing sent twice (but what the killed worker had on
its connections, which goes again with the same Idempotency-Key).

Two projects from the same playbooks and contacts are driven with the same --now minutes and
the same people's actions between them: one stays on SQLite and ticks in one process, the
other is copied to PostgreSQL after the first day and then ticks with three processes at once.
Each sends to a local HTTP server of its own, which counts what it receives."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import chdir, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seqctl.cli import app
from seqctl.store import open_store
from tests.channels.latency import Provider, http_server
from tests.conftest import Result

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")

CONNECTIONS = 4
CLAIM_SECONDS = 2.0  # a dead worker's claims run out this fast here (120 s by default)
ZONES = ("Asia/Tokyo", "Europe/Lisbon", "America/Sao_Paulo", "America/New_York")
CONSENT = 'approval: auto\nconsent: {by: ana@acme.test, at: "2025-11-01"}\n'

# Texts in the contact's own zone, on weekdays from 09:00 to 17:00; a reply ends it.
WINDOW = f"""
sequence: window
owner: ana@acme.test
{CONSENT}send_window: {{days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}}
on: {{reply: exit}}
steps:
  - id: hello
    type: sms
    body: "Hello {{{{ contact.first_name }}}}, it is {{{{ contact.timezone }}}} here."
  - id: nudge
    type: sms
    wait: 1 day
    body: "Still there, {{{{ contact.first_name }}}}?"
  - id: last
    type: sms
    wait: 5 hours
    body: "Last one, {{{{ contact.first_name }}}}."
"""
# Emails that wait for a person's OK (the default); a reply ends it too.
HELD = """
sequence: held
owner: ana@acme.test
sender: {name: Ana, email: ana@acme.test}
steps:
  - id: intro
    type: email
    subject: "Hi {{ contact.first_name }}"
    body: "Hello {{ contact.first_name }}, this is {{ sender.name }}."
  - id: follow
    type: email
    wait: 1 day
    subject: Following up
    body: "Any news, {{ contact.first_name }}?"
"""
# Texts at most 5 in any 24 hours: the rest wait their turn.
CAPPED = f"""
sequence: capped
owner: ana@acme.test
{CONSENT}limits: {{per_day: 5}}
steps:
  - id: ping
    type: sms
    body: "Ping {{{{ contact.first_name }}}}"
  - id: pong
    type: sms
    wait: 6 hours
    body: "Pong {{{{ contact.first_name }}}}"
"""
GROUPS = {"window": range(0, 28), "held": range(28, 40), "capped": range(40, 52)}
KEYS = [f"k{i:02d}" for i in range(52)]


def contacts() -> str:
    rows = [
        f"{key},{key}@example.com,+3519100{i:04d},{key.upper()},{ZONES[i % len(ZONES)]}\n"
        for i, key in enumerate(KEYS)
    ]
    return "key,email,phone,first_name,timezone\n" + "".join(rows)


@dataclass
class Team:
    """One project folder, its database (a file, later perhaps a URL) and its provider."""

    folder: Path
    db: str
    provider: Provider
    runner: CliRunner = field(default_factory=CliRunner)

    def __call__(self, *args: str) -> Result:
        with chdir(self.folder):
            result = self.runner.invoke(app, ["--db", self.db, *args], catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return result

    def spawn(self, now: str) -> subprocess.Popen[bytes]:
        """A tick in a process of its own, as cron on another machine would start it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEQCTL_")}
        env["SEQCTL_CLAIM_SECONDS"] = str(CLAIM_SECONDS)
        return subprocess.Popen(
            [sys.executable, "-m", "seqctl", "--db", self.db, f"--now={now}", "tick", "--json"],
            cwd=self.folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )


def finished(worker: subprocess.Popen[bytes]) -> dict[str, Any]:
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err.decode()
    return dict(json.loads(out))


def set_up(folder: Path, provider: Provider, port: int) -> Team:
    """A project on SQLite: three sequences published and active, the contacts enrolled."""
    folder.mkdir()
    (folder / "playbooks").mkdir()
    for name, text in {"window": WINDOW, "held": HELD, "capped": CAPPED}.items():
        (folder / "playbooks" / f"{name}.yaml").write_text(text.lstrip("\n"))
    channel = f"{{kind: webhook, url: 'http://127.0.0.1:{port}/send', connections: {CONNECTIONS}}}"
    (folder / "seqctl.yaml").write_text(f"channels:\n  default: {channel}\n")
    (folder / "contacts.csv").write_text(contacts())
    team = Team(folder, str(folder / "seqctl.db"), provider)
    open_store(Path(team.db)).close()
    team.ok("--now=2026-11-23T05:00:00Z", "publish")
    for sequence in GROUPS:
        team.ok("activate", sequence)
    team.ok("contacts", "import", "contacts.csv")
    for sequence, members in GROUPS.items():
        listed = [arg for i in members for arg in ("-c", KEYS[i])]
        team.ok("--now=2026-11-23T05:00:00Z", "enroll", sequence, *listed)
    return team


# The minutes cron starts ticks at: Monday's on SQLite on both sides, then, after the copy,
# Tuesday's and Wednesday's (on PostgreSQL on one side).
SQLITE_MINUTES = [f"2026-11-23T{h:02d}:00:00Z" for h in (6, 8, 10, 12, 15, 18, 21)]
POSTGRES_MINUTES = [f"2026-11-24T{h:02d}:00:00Z" for h in (6, 9, 12, 17)] + [
    f"2026-11-25T{h:02d}:00:00Z" for h in (2, 8, 14)
]
APPROVALS_AT = ("2026-11-23T10:00:00Z", "2026-11-24T06:00:00Z", "2026-11-25T08:00:00Z")
REPLIES = {  # contacts who reply, by the minute before whose tick their reply is imported
    "2026-11-23T15:00:00Z": ["k01", "k06", "k31"],
    "2026-11-24T09:00:00Z": ["k10", "k13"],
    "2026-11-24T17:00:00Z": ["k17", "k42"],
}
KILL_AT = "2026-11-25T08:00:00Z"  # approved emails, capped and windowed texts all go out


def between(team: Team, now: str) -> None:
    """What people do between ticks, the same on both sides: approvals, a rejection, replies."""
    at = f"--now={now}"
    if now in APPROVALS_AT:
        waiting = team.ok(at, "approvals", "--json").json
        by_contact = {(m["contact"], m["step"]): m["id"] for m in waiting}
        if now == "2026-11-23T10:00:00Z":  # k29's first email is not right for them
            team.ok(at, "reject", str(by_contact.pop(("k29", "intro"))), "--reason", "not now")
        chosen = sorted(i for (key, _), i in by_contact.items() if int(key[1:]) % 3 != 2)
        if chosen:
            team.ok(at, "approve", *map(str, chosen), "--by", "ana@acme.test")
    replies = REPLIES.get(now, [])
    if replies:
        lines = [json.dumps({"type": "reply", "contact": k, "id": f"r-{k}"}) for k in replies]
        (team.folder / "replies.jsonl").write_text("\n".join(lines) + "\n")
        team.ok(at, "events", "import", "replies.jsonl")


def tick_here(team: Team, now: str) -> dict[str, Any]:
    return dict(team.ok(f"--now={now}", "tick", "--json").json)


def tick_together(team: Team, now: str, chance: random.Random) -> tuple[list[dict[str, Any]], bool]:
    """Three tick processes at once; at KILL_AT one of them is killed with SIGKILL while it
    has messages on their way, and once its claims have run out a fourth tick at the same
    minute takes over. The reports of the workers that ended, and whether one was killed."""
    requests = team.provider.requests
    workers = [team.spawn(now) for _ in range(3)]
    killed = False
    if now == KILL_AT:
        while all(w.poll() is None for w in workers) and team.provider.requests == requests:
            time.sleep(0.002)
        time.sleep(chance.uniform(0.0, 0.05))
        while not killed and any(w.poll() is None for w in workers):
            sending = senders(team.db)
            for victim in (w for w in workers if w.pid in sending):
                victim.send_signal(signal.SIGKILL)
                victim.communicate()
                workers.remove(victim)
                killed = True
                break
    reports = [finished(worker) for worker in workers]
    if killed:
        time.sleep(CLAIM_SECONDS + 0.3)  # the dead worker's claims run out
        reports = [finished(team.spawn(now))]
    return reports, killed


def add_up(reports: list[dict[str, Any]]) -> dict[str, int]:
    counted = ("due", "sent", "actions", "approvals", "failed", "deferred", "completed")
    return {name: sum(report[name] for report in reports) for name in counted}


def senders(url: str) -> set[int]:
    """The processes with messages on their way now (a worker names itself host:pid:time)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT DISTINCT claimed_by FROM messages WHERE status = 'sending'"
        ).fetchall()
    return {int(holder.split(":")[1]) for (holder,) in rows if holder}


def messages(team: Team) -> dict[tuple[str, str, str], dict[str, Any]]:
    listed = team.ok("messages", "--json", "--limit", "100000").json
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for m in listed:
        found[(m["contact"], m["sequence"], m["step"])] = {k: v for k, v in m.items() if k != "id"}
    return found


def bodies(provider: Provider) -> dict[str, str]:
    """What each message said, by its Idempotency-Key, as the provider received it."""
    found: dict[str, str] = {}
    for request in provider.signatures:
        found[request["Idempotency-Key"]] = request["body"]
    return found


@contextmanager
def servers() -> Iterator[tuple[Provider, int, Provider, int]]:
    sqlite, postgres = Provider(latency=0.002), Provider(latency=0.05)
    with http_server(sqlite) as one, http_server(postgres) as other:
        yield sqlite, one, postgres, other


def test_moving_to_postgresql_with_workers_on_several_machines_changes_nothing(
    bare: Path, postgres_url: str
) -> None:
    chance = random.Random(11)
    with servers() as (one_provider, one_port, other_provider, other_port):
        stays = set_up(bare / "stays", one_provider, one_port)
        moves = set_up(bare / "moves", other_provider, other_port)
        for now in SQLITE_MINUTES:
            for team in (stays, moves):
                between(team, now)
                tick_here(team, now)
        copied = moves("db", "copy", moves.db, postgres_url)
        assert copied.exit_code == 0, copied.stdout + copied.stderr
        moves.db = postgres_url
        kills = 0
        for now in POSTGRES_MINUTES:
            between(stays, now)
            alone = tick_here(stays, now)
            between(moves, now)
            reports, killed = tick_together(moves, now, chance)
            kills += killed
            if not killed:  # the work of the minute, shared out: the same in sum
                assert add_up(reports) == add_up([alone]), now
    assert kills == 1, "no worker was seen with a message on its way at KILL_AT"

    # The schedule: every contact's history, step by step and minute by minute.
    for key in KEYS:
        assert timeline(moves, key) == timeline(stays, key), key
    # The messages: each one's state, address and times; what the provider got, once.
    sent = messages(stays)
    assert not any(m.pop("resent") for m in sent.values())
    theirs = messages(moves)
    resent = {k for k, m in theirs.items() if m.pop("resent")}
    for k in resent:  # sent again after the kill: a retry's leftover time is cleared then
        theirs[k]["next_attempt_at"] = sent[k]["next_attempt_at"]
    assert theirs == sent
    assert len(resent) == other_provider.repeats
    assert bodies(other_provider) == bodies(one_provider)
    assert set(other_provider.received) == set(one_provider.received), "a message was lost"
    assert Counter(m["status"] for m in sent.values())["sent"] == len(one_provider.received)
    # What the killed worker had on its connections went again, with the same key.
    assert other_provider.repeats <= CONNECTIONS
    # The counts, what still waits for a person, the enrollments, the actions.
    for view in (("status", "--json"), ("enrollments", "--json"), ("actions", "--all", "--json")):
        assert moves.ok(*view).json == stays.ok(*view).json, view
    assert waiting(moves) == waiting(stays)

    # The scenario did what it says: replies ended sequences, a person approved and rejected,
    # the cap held messages back, the window moved sends to each contact's morning.
    assert {key for key in KEYS if "reply" in kinds(stays, key)} == {
        key for keys in REPLIES.values() for key in keys
    }
    assert sent[("k01", "window", "hello")]["status"] == "sent"
    assert ("k01", "window", "nudge") not in sent
    assert sent[("k29", "held", "intro")]["status"] == "rejected"
    assert sent[("k32", "held", "intro")]["status"] == "pending_approval"
    capped = [
        m["sent_at"][:10] for (_, seq, _), m in sent.items() if seq == "capped" and m["sent_at"]
    ]
    assert max(Counter(capped).values()) == 5
    assert any(m["status"] == "queued" for (_, seq, _), m in sent.items() if seq == "capped")
    hello = {key: sent[(key, "window", "hello")]["sent_at"] for key in ("k00", "k01", "k02", "k03")}
    assert hello == {  # Tokyo, Lisbon, São Paulo, New York: the first tick in their 09:00-17:00
        "k00": "2026-11-23T06:00:00Z",
        "k01": "2026-11-23T10:00:00Z",
        "k02": "2026-11-23T12:00:00Z",
        "k03": "2026-11-23T15:00:00Z",
    }
    assert set(APPROVALS_AT) | set(REPLIES) | {KILL_AT} <= set(SQLITE_MINUTES + POSTGRES_MINUTES)


def timeline(team: Team, key: str) -> list[dict[str, Any]]:
    return list(team.ok("timeline", key, "--json").json)


def kinds(team: Team, key: str) -> list[str]:
    return [entry["kind"] for entry in timeline(team, key)]


def waiting(team: Team) -> list[dict[str, Any]]:
    """Messages waiting for approval, without their ids (workers number new ones as they go)."""
    listed = team.ok("approvals", "--all", "--json").json
    return [{k: v for k, v in m.items() if k != "id"} for m in listed]
