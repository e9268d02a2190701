"""What the benchmark feeds seqctl: contacts across the world, bench playbooks, 1,000 variants."""

from __future__ import annotations

import csv
import json
import random
import re
import textwrap
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

SEED = 20261123
CSV_FIELDS = ("key", "email", "first_name", "last_name", "company", "phone", "timezone", "status")

# (IANA zone, country calling code): both hemispheres, DST and not, half and quarter hours.
ZONES = (
    ("America/New_York", "1"),
    ("America/Chicago", "1"),
    ("America/Denver", "1"),
    ("America/Los_Angeles", "1"),
    ("America/Anchorage", "1"),
    ("Pacific/Honolulu", "1"),
    ("America/Toronto", "1"),
    ("America/Mexico_City", "52"),
    ("America/Bogota", "57"),
    ("America/Sao_Paulo", "55"),
    ("America/Argentina/Buenos_Aires", "54"),
    ("America/Santiago", "56"),
    ("Europe/London", "44"),
    ("Europe/Lisbon", "351"),
    ("Europe/Madrid", "34"),
    ("Europe/Paris", "33"),
    ("Europe/Berlin", "49"),
    ("Europe/Warsaw", "48"),
    ("Europe/Istanbul", "90"),
    ("Africa/Lagos", "234"),
    ("Africa/Cairo", "20"),
    ("Africa/Johannesburg", "27"),
    ("Asia/Dubai", "971"),
    ("Asia/Kolkata", "91"),
    ("Asia/Kathmandu", "977"),
    ("Asia/Jakarta", "62"),
    ("Asia/Singapore", "65"),
    ("Asia/Shanghai", "86"),
    ("Asia/Tokyo", "81"),
    ("Australia/Sydney", "61"),
    ("Pacific/Auckland", "64"),
)
FIRST_NAMES = (
    "Maria", "João", "Ana", "Lucas", "Sofia", "Mateo", "Emma", "Liam", "Olivia", "Noah",
    "Chloé", "Léa", "Hannah", "Jonas", "Zoë", "Björn", "Aisha", "Omar", "Fatima", "Chidi",
    "Ngozi", "Priya", "Arjun", "Wei", "Mei", "Yuki", "Haruto", "Siti", "Budi", "Aroha",
    "Tane", "Isabella", "Santiago", "Valentina", "Kofi", "Amara", "Elif", "Mehmet", "Zofia",
    "Jakub", "Siobhan", "Oisín", "Renée", "François", "Inês", "Gonçalo", "Nour", "Layla",
)  # fmt: skip
LAST_NAMES = (
    "Santos", "Ferreira", "Silva", "García", "Martínez", "Smith", "Johnson", "Brown", "Müller",
    "Schmidt", "Dubois", "Lefèvre", "Kowalski", "Nowak", "Yılmaz", "Kaya", "Okafor", "Adeyemi",
    "Mensah", "Naidoo", "Hassan", "Patel", "Sharma", "Shrestha", "Wang", "Li", "Tanaka",
    "Sato", "Tan", "Wijaya", "O'Brien", "Ngata", "Walker", "Rossi", "Novak", "Haddad",
)  # fmt: skip
COMPANY_WORDS = (
    "Acme", "Northwind", "Blue", "Harbor", "Summit", "Pioneer", "Atlas", "Casa", "Nova",
    "Bright", "Path", "Green", "Field", "Iron", "Oak", "Lumen", "Vertex", "Delta", "Orbit",
)  # fmt: skip
COMPANY_KINDS = ("Logistics", "Studio", "Reformas", "Labs", "Foods", "Capital", "Health", "GmbH")
STATUSES = ("lead", "lead", "lead", "customer", "trial", "churned")


@dataclass(frozen=True)
class Contact:
    """One generated contact; empty strings are missing values."""

    key: str
    email: str
    first_name: str
    last_name: str
    company: str
    phone: str
    timezone: str
    status: str


def contacts(count: int, seed: int = SEED) -> Iterator[Contact]:
    """count realistic contacts, the same ones for the same seed."""
    rng = random.Random(seed)
    for number in range(count):
        yield _contact(rng, number)


def _contact(rng: random.Random, number: int) -> Contact:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
    zone, calling_code = rng.choice(ZONES)
    domain = _ascii(company.split()[0] + company.split()[1]) + rng.choice((".test", ".example"))
    return Contact(
        key=f"c{number:07d}",
        email=f"{_ascii(first)}.{_ascii(last)}.{number}@{domain}",
        # A few contacts lack a first name or a zone: templates default, the sequence zone wins.
        first_name="" if rng.random() < 0.03 else first,
        last_name=last,
        company=company,
        phone=f"+{calling_code}{rng.randrange(10**8, 10**9)}",
        timezone="" if rng.random() < 0.03 else zone,
        status=rng.choice(STATUSES),
    )


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower()) or "x"


def write_csv(path: Path, people: Iterable[Contact]) -> None:
    """The contacts as CSV with a header; missing values are empty cells."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for person in people:
            data = asdict(person)
            writer.writerow([data[name] for name in CSV_FIELDS])


def write_jsonl(path: Path, people: Iterable[Contact]) -> None:
    """The contacts as JSON Lines: missing values left out, CRM details as a nested object."""
    with path.open("w", encoding="utf-8") as handle:
        for number, person in enumerate(people):
            record = {name: value for name, value in asdict(person).items() if value}
            record["crm"] = {"owner": "ana@acme.test", "score": number % 100}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_keys(path: Path, people: Iterable[Contact]) -> None:
    """Contact keys, one a line: the simplest `seqctl enroll --file`."""
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(f"{person.key}\n" for person in people)


# bench-auto's first email body; bench/floor.py renders the same text.
HELLO_BODY = """\
Hi {{ contact.first_name | default('there') }},

I help teams like {{ contact.company | default('yours') }} keep their follow-ups on time.
Would a 20-minute call next week be useful?

{{ sender.name | default('The Acme team') }}
"""

_BENCH_AUTO = """\
# Benchmark: two emails two days apart, sent by the tick without a per-message OK.
sequence: bench-auto
name: Benchmark - automatic follow-up
description: An email now, a second one two days later, in office hours.
target: contact
owner: ana@acme.test
visibility: company
timezone: America/New_York
send_window: {days: [mon, tue, wed, thu, fri], start: "08:00", end: "20:00"}
holidays: {country: US}
approval: auto
consent: {by: ana@acme.test, at: "2026-11-01"}
on: {reply: exit, bounce: exit, meeting_booked: exit}
sender: {name: Ana, email: ana@acme.test}
steps:
  - id: hello
    type: email
    subject: "A quick question, {{ contact.first_name | default('there') }}"
    body: |
{hello_body}
  - type: wait
    wait: 2 days
  - id: follow-up
    type: email
    subject: "Following up, {{ contact.first_name | default('there') }}"
    body: |
      Hi {{ contact.first_name | default('there') }},

      Just checking this reached you. If the timing is wrong, tell me when to write again.

      {{ sender.name | default('The Acme team') }}
"""
BENCH_AUTO = _BENCH_AUTO.replace("{hello_body}\n", textwrap.indent(HELLO_BODY, " " * 6))

BENCH_APPROVE = """\
# Benchmark: every message waits for a person's OK.
sequence: bench-approve
name: Benchmark - approved outreach
description: One email that a person approves before it goes out.
target: contact
owner: ana@acme.test
visibility: company
timezone: Europe/Lisbon
approval: required
on: {reply: exit, bounce: exit}
sender: {name: Ana, email: ana@acme.test}
steps:
  - id: intro
    type: email
    subject: "Hello from Acme, {{ contact.first_name | default('there') }}"
    body: |
      Hi {{ contact.first_name | default('there') }},

      May I send you a short overview for {{ contact.company | default('your team') }}?
"""


def write_bench_playbooks(folder: Path) -> None:
    """Add bench-auto and bench-approve beside the starter playbooks."""
    (folder / "bench-auto.yaml").write_text(BENCH_AUTO, encoding="utf-8")
    (folder / "bench-approve.yaml").write_text(BENCH_APPROVE, encoding="utf-8")


def write_lint_variants(starters: Path, target: Path, count: int) -> None:
    """count valid playbooks: the starters in turn, each with its own id, zone and window."""
    sources = sorted(starters.glob("*.yaml"))
    if not sources:
        raise FileNotFoundError(f"no starter playbooks in {starters}")
    texts = [path.read_text(encoding="utf-8") for path in sources]
    target.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        sequence_id, text = _variant(texts[number % len(texts)], number)
        (target / f"{sequence_id}.yaml").write_text(text, encoding="utf-8")


def _variant(text: str, number: int) -> tuple[str, str]:
    match = re.search(r"^sequence: (\S+)", text, flags=re.MULTILINE)
    if match is None:
        raise ValueError("a starter playbook without a `sequence:` line")
    sequence_id = f"{match.group(1)}-{number:04d}"
    zone = ZONES[number % len(ZONES)][0]
    replacements = (
        (r"^sequence: \S+", f"sequence: {sequence_id}"),
        (r"^(name: .*)$", rf"\1 (variant {number})"),
        (r"^timezone: \S+", f"timezone: {zone}"),
        (r'start: "09:00"', f'start: "{8 + number % 3:02d}:00"'),
    )
    for pattern, replacement in replacements:
        text = re.sub(pattern, replacement, text, count=1, flags=re.MULTILINE)
    return sequence_id, text
