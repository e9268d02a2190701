"""A month of simulated activity, built through the real commands with `--now`.

Three sequences and two owners, and a draft nobody is in:
- `welcome` (ana, São Paulo time): 50 new leads every other day get `hello`, an A/B test
  where variant b draws replies from one contact in six and variant a from one in twenty; a
  follow-up three days later. Sent automatically.
- `renewals` (bob, private, UTC): 12 customers every other day; the reminder needs the
  contact's plan (a customer without one fails), waits for approval (approved, one rejected
  each time, the last ones left waiting), then a call for carl two days later (a quarter
  done, the rest left to go overdue), then a last email.
- `reactivation` (ana): a draft, nobody enrolled.
Each time the contacts answer what was just sent: opens, clicks, replies, bounces,
unsubscribes and booked meetings, decided by the contact's number so the test knows them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from seqctl.cli import app
from seqctl.store import open_store
from tests.playbooks import AUTO_SEND

DAYS = 28
EVERY = 2  # days between two days of work (enrollments, ticks, answers): 14 of them
START = datetime(2026, 11, 1, 12, 0)  # UTC; the first enrollments
NOW = "2026-11-30T18:00:00Z"  # when the report is made: the last 30 days hold everything
WELCOME_PER_DAY, RENEWALS_PER_DAY = 50, 12
ENV = {"SEQCTL_DB": None, "SEQCTL_NOW": None, "SEQCTL_CONFIG": None, "SEQCTL_USER": None}

WELCOME = f"""
sequence: welcome
name: Welcome new leads
owner: ana@acme.test
timezone: America/Sao_Paulo
{AUTO_SEND}sender: {{name: Ana, email: ana@acme.test}}
steps:
  - id: hello
    type: email
    body: "Hi {{{{ contact.first_name }}}}, thanks for your interest."
    variants:
      - id: a
        name: Plain subject
        subject: "Welcome to Acme"
      - id: b
        name: Question
        subject: "{{{{ contact.first_name }}}}, a quick question?"
  - id: follow-up
    type: email
    wait: 3 days
    subject: Anything I can help with?
    body: "Hi {{{{ contact.first_name }}}}, just checking in."
"""
RENEWALS = """
sequence: renewals
name: Renewal reminders
owner: bob@acme.test
visibility: private
sender: {name: Bob, email: bob@acme.test}
steps:
  - id: reminder
    type: email
    subject: "Your {{ contact.plan }} plan renews soon"
    body: "Hi {{ contact.first_name }}, your {{ contact.plan }} plan renews next month."
  - id: call
    type: call
    wait: 2 days
    assignee: carl@acme.test
    instructions: "Call {{ contact.first_name }} about the renewal."
  - id: last-call
    type: email
    wait: 1 day
    subject: Last reminder
    body: "Hi {{ contact.first_name }}, last reminder about your renewal."
"""
REACTIVATION = """
sequence: reactivation
name: Win back quiet customers
owner: ana@acme.test
timezone: America/Sao_Paulo
steps:
  - type: email
    subject: We miss you
    body: Hello again.
"""


def reacts(number: int, variant: str | None) -> dict[str, bool]:
    """What contact number N does with a message: the simulation's known behaviour."""
    reply_every = 6 if variant == "b" else 20
    return {
        "open": number % 2 == 0,
        "click": number % 8 == 0,
        "reply": number % reply_every == 0,
        "meeting_booked": number % 60 == 0,
        "bounce": number % 37 == 1,
        "unsubscribe": number % 53 == 2,
    }


@dataclass
class Month:
    root: Path
    db: Path
    events: list[dict[str, Any]] = field(default_factory=list)  # every event recorded
    sent: dict[str, str | None] = field(default_factory=dict)  # hello: contact -> variant

    def run(self, *args: str, now: str | None = None) -> Any:
        """A command against the month's database; its parsed JSON when it printed some."""
        return _run(self.db, *args, now=now)


def _run(db: Path, *args: str, now: str | None = None) -> Any:
    head = ["--db", str(db)] + ([f"--now={now}"] if now else [])
    result = CliRunner().invoke(app, [*head, *args], catch_exceptions=False, env=ENV)
    assert result.exit_code in (0, 1), (args, result.stdout, result.stderr)
    text = result.stdout.strip()
    return json.loads(text) if text[:1] in "[{" else text


def _at(day: int, hour: int, minute: int = 0) -> str:
    return (START.replace(hour=hour, minute=minute) + timedelta(days=day)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def simulate(root: Path, progress: Callable[[int], None] | None = None) -> Month:
    playbooks = root / "playbooks"
    playbooks.mkdir(parents=True)
    for name, text in (
        ("welcome", WELCOME),
        ("renewals", RENEWALS),
        ("reactivation", REACTIVATION),
    ):
        (playbooks / f"{name}.yaml").write_text(text.lstrip("\n"), encoding="utf-8")
    month = Month(root, root / "seqctl.db")
    month.run("db", "init")
    month.run("publish", str(playbooks), now=_at(0, 8))
    month.run("activate", "welcome")
    month.run("activate", "renewals")
    rows = ["key,email,first_name,last_name,plan"]
    days = range(0, DAYS, EVERY)
    for day in range(len(days)):
        for i in range(WELCOME_PER_DAY):
            n = day * WELCOME_PER_DAY + i
            rows.append(f"w{n},w{n}@example.com,Wanda{n},Lead,")
        for i in range(RENEWALS_PER_DAY):
            n = day * RENEWALS_PER_DAY + i
            plan = "" if n % 9 == 4 else "Pro"
            rows.append(f"r{n},r{n}@example.com,Rita{n},Customer,{plan}")
    (root / "contacts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    month.run("contacts", "import", str(root / "contacts.csv"))
    read = 0  # lines of the outbox answered so far
    for batch, day in enumerate(days):
        welcome = [f"w{batch * WELCOME_PER_DAY + i}" for i in range(WELCOME_PER_DAY)]
        renewals = [f"r{batch * RENEWALS_PER_DAY + i}" for i in range(RENEWALS_PER_DAY)]
        keys = root / "keys.txt"
        keys.write_text("\n".join(welcome) + "\n", encoding="utf-8")
        month.run("enroll", "welcome", "--file", str(keys), now=_at(day, 11))
        keys.write_text("\n".join(renewals) + "\n", encoding="utf-8")
        month.run("enroll", "renewals", "--file", str(keys), now=_at(day, 11))
        month.run("tick", now=_at(day, 12))
        read = _answer(month, day, read)
        _approve(month, day)
        for action in month.run("actions", "--due", "--json", now=_at(day, 16)):
            if int(action["contact"][1:]) % 4 == 0:
                month.run("done", str(action["id"]), "--by", "carl@acme.test", now=_at(day, 16))
        if progress is not None:
            progress(day)
    month.run("tick", now=_at(DAYS, 12))
    # One message the provider refused for good (the CLI gets here after days of retries).
    with open_store(month.db) as store:
        first = store.messages(status="sent", sequence="welcome")[0]
        store.set_message_status([first.id], "failed", error="mailbox <full> & gone")
    for message in month.run("messages", "--json", "--sequence", "welcome"):
        if message["step"] == "hello":
            month.sent[message["contact"]] = message["variant"]
    return month


def _answer(month: Month, day: int, read: int) -> int:
    """Contacts react, two hours after, to what was sent today (the outbox's new lines)."""
    events = []
    lines = (month.root / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines[read:]:
        message = json.loads(line)
        number = int(message["contact"][1:])
        for kind, does in reacts(number, message.get("variant")).items():
            if does:
                events.append(
                    {
                        "type": kind,
                        "contact": message["contact"],
                        "message": message["id"],
                        "at": _at(day, 14),
                        "id": f"{kind}-{message['id']}",
                        "variant": message.get("variant"),
                        "step": message["step"],
                        "sequence": message["sequence"],
                    }
                )
    if events:
        path = month.root / "events.jsonl"
        fields = ("type", "contact", "message", "at", "id")
        path.write_text(
            "".join(json.dumps({k: e[k] for k in fields}) + "\n" for e in events), encoding="utf-8"
        )
        month.run("events", "import", str(path), now=_at(day, 14, 30))
        month.events.extend(events)
    return len(lines)


def _approve(month: Month, day: int) -> None:
    """Bob rejects the first message waiting and approves the rest; not on the last two days."""
    if day >= DAYS - 2 * EVERY:
        return
    waiting = month.run("approvals", "--json", now=_at(day, 15))
    if waiting:
        month.run("reject", str(waiting[0]["id"]), "--reason", "wrong plan", now=_at(day, 15))
        month.run("approve", "--all", "--by", "bob@acme.test", now=_at(day, 15))
