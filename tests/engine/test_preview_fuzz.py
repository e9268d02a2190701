"""`preview` never raises on odd contacts and playbooks: every problem is an entry's `error`.

Playbooks are built from schema-valid pieces that go wrong at run time (missing variables,
arithmetic on text, compose programs that fail, print nothing, print bytes that are not UTF-8
or cannot be run, WhatsApp outside its window, channel auto without an address); contacts hold
odd values (nested data, numbers, blanks, bad time zones, very long text).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqctl.engine.messages import composers as composing
from seqctl.engine.run.runtime import RunnableVersion
from seqctl.engine.views.preview import preview
from seqctl.playbook.model import normalise
from tests.conftest import Run, Write

PY = sys.executable
STEPS: list[dict[str, Any]] = [
    {"type": "email", "subject": "Hi {{ contact.first_name }}", "body": "{{ contact.age + 1 }}"},
    {"type": "email", "subject": "{{ contact.company.name | upper }}", "body": "x"},
    {"type": "sms", "body": "{{ contact.nope }}"},
    {"type": "whatsapp", "body": "Oi"},
    {"type": "whatsapp", "body": "Oi", "whatsapp_template": {"name": "t", "language": "pt_BR",
                                                           "params": ["{{ contact.x }}"]}},
    {"type": "email", "channel": "auto", "body": "{{ contact.key }}"},
    {"type": "telegram", "body": "{{ contact.tags[3] }}"},
    {"type": "call", "instructions": "{{ contact.phone | int // 0 }}"},
    {"type": "task", "wait": "2bd", "instructions": "{{ enrollment.amount }}"},
    {"type": "branch", "if": "contact.score > 10", "then": "s0"},
    {"type": "webhook", "payload": {"a": "{{ contact.email }}", "n": 1}},
    {"type": "email", "mode": "manual", "subject": "{{ contact.first_name }}", "body": "b"},
    {"type": "email", "body": "draft for {{ contact.key }}",
     "compose": {"mode": "assisted", "command": "exit3"}},
    {"type": "email", "body": "d", "compose": {"mode": "assisted", "command": "blank"}},
    {"type": "email", "body": "d", "compose": {"mode": "assisted", "command": "bytes"}},
    {"type": "email", "body": "d", "compose": {"mode": "assisted", "command": "missing"}},
    {"type": "email", "body": "d", "compose": {"mode": "assisted", "command": "not-a-program"}},
    {"type": "email", "body": "d", "compose": {"mode": "assisted", "command": "slow"}},
    {"type": "email", "body": "d", "compose": {"mode": "assisted", "command": "unknown"}},
    {"type": "email", "body": "d", "compose": {"mode": "assisted", "command": "rm -rf /"}},
]  # fmt: skip
# The composers seqctl.yaml allows (a playbook names one; it never runs a command itself).
COMPOSERS: dict[str, dict[str, Any]] = {
    "exit3": {"command": [PY, "-c", "import sys; sys.exit(3)"]},
    "blank": {"command": [PY, "-c", "print('')"]},
    "bytes": {"command": [PY, "-c", "import sys; sys.stdout.buffer.write(b'\\xff\\xfe')"]},
    "missing": {"command": ["/nonexistent/composer"]},
    "not-a-program": {"command": [str(Path(__file__))]},
    "slow": {"command": [PY, "-c", "import time; time.sleep(5)"], "timeout": 0.2},
}


@pytest.fixture(autouse=True)
def composers() -> Iterator[None]:
    composing.configure(COMPOSERS)
    yield
    composing.configure(None)


def composers_yaml() -> str:
    """COMPOSERS as seqctl.yaml says them."""
    return yaml.safe_dump({"composers": COMPOSERS})


ODD = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["name", "x"]), st.text(max_size=5), max_size=2),
    st.just("x" * 5000),
)
CONTACTS = st.fixed_dictionaries(
    {"key": st.text(min_size=1, max_size=10)},
    optional={
        "email": st.sampled_from(["a@x.test", "", None, "not-an-email", "É@ü.test"]),
        "phone": st.sampled_from(["+5511987654321", "", None, "12"]),
        "timezone": st.sampled_from(["America/Sao_Paulo", "Mars/Base", "", None, "UTC"]),
        "first_name": ODD,
        "age": ODD,
        "company": ODD,
        "tags": ODD,
        "score": ODD,
        "country": st.sampled_from(["BR", "US", "XX", "", None, 3]),
    },
)
SETTINGS = st.fixed_dictionaries(
    {},
    optional={
        "timezone": st.sampled_from(["UTC", "Asia/Tokyo"]),
        "send_window": st.sampled_from([{"days": ["mon"], "start": "09:00", "end": "10:00"}]),
        "holidays": st.sampled_from([{"country": "BR"}, {"dates": ["2026-12-25"]}]),
        "contact_fields": st.sampled_from([{"email": "work", "timezone": "tz"}]),
        "target": st.sampled_from(["deal", "contact"]),
        "sender": st.sampled_from([{"email": "ana@acme.test"}]),
    },
)


def version_of(settings_: dict[str, Any], steps: list[dict[str, Any]]) -> RunnableVersion:
    numbered = [{"id": f"s{i}", **step} for i, step in enumerate(steps)]
    model = normalise({"sequence": "fuzz", **settings_, "steps": numbered})
    return RunnableVersion("fuzz", 0, model)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    settings_=SETTINGS,
    steps=st.lists(st.sampled_from(STEPS), min_size=1, max_size=4),
    contact=CONTACTS,
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
)
def test_preview_never_raises(
    settings_: dict[str, Any], steps: list[dict[str, Any]], contact: dict[str, Any], start: datetime
) -> None:
    plan = preview(version_of(settings_, steps), contact, start=start)
    assert plan, "every playbook has at least one step to show"
    for entry in plan:
        assert entry["due_at"] >= start.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert isinstance(entry.get("error", ""), str)


def test_a_compose_program_gets_the_rendered_draft(run: Run, write: Write) -> None:
    """The program reads the draft as the contact would get it, not the template's text."""
    write(
        "echo_draft.py",
        "import json, sys\nprint('Subject: AI ' + json.load(sys.stdin)['draft'])\n",
    )
    write("seqctl.yaml", f"composers: {{echo: {{command: ['{PY}', echo_draft.py]}}}}\n")
    write(
        "playbooks/c.yaml",
        """
        sequence: c
        steps:
          - id: hello
            type: email
            subject: Hi
            body: "Draft for {{ contact.first_name }} at {{ contact.company }}"
            compose: {mode: assisted, command: echo}
        """,
    )
    write("c.csv", "key,email,first_name,company\nm,m@x.test,Maria,Casa Nova\n")
    assert run("contacts", "import", "c.csv").exit_code == 0
    result = run("--now=2026-11-23T13:00:00Z", "preview", "playbooks/c.yaml", "-c", "m", "--json")
    assert result.exit_code == 0, result.stderr
    [entry] = result.json
    assert entry["subject"] == "AI Draft for Maria at Casa Nova"


def test_preview_shows_every_failure_as_a_line_not_a_traceback(run: Run, write: Write) -> None:
    """One of each failure, through the CLI with exceptions that are bugs propagating."""
    write(
        "playbooks/odd.yaml",
        """
        sequence: odd
        steps:
          - {id: sum, type: email, subject: Hi, body: "{{ contact.age + 1 }}"}
          - id: silent
            type: email
            wait: 1 day
            body: d
            compose: {mode: assisted, command: blank}
          - id: bytes
            type: email
            wait: 1 day
            body: d
            compose: {mode: assisted, command: bytes}
          - id: not-a-program
            type: email
            wait: 1 day
            body: d
            compose: {mode: assisted, command: not-a-program}
          - {id: wa, type: whatsapp, wait: 1 day, body: Oi}
        """,
    )
    write("seqctl.yaml", composers_yaml())
    write("c.csv", "key,email,age,phone\nodd,o@x.test,forty,+5511987654321\n")
    assert run("contacts", "import", "c.csv").exit_code == 0
    result = run("--now=2026-11-23T13:00:00Z", "preview", "playbooks/odd.yaml", "-c", "odd")
    assert result.exit_code == 0, result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("  ! ")]
    assert errors == [
        '  ! template error: can only concatenate str (not "int") to str (template line 1)',
        "  ! compose command printed nothing: a blank message is never sent",
        "  ! compose command printed text that is not UTF-8",
        f"  ! compose command cannot be run: {Path(__file__)}: permission denied",
        "  ! outside the WhatsApp 24-hour window and the step has no whatsapp_template to fall "
        "back on",
    ]


def test_a_broken_playbook_file_shows_its_findings(run: Run, write: Write) -> None:
    write("playbooks/b.yaml", "sequence: b\nsteps:\n  - type: emial\n")
    write("c.csv", "key,email\na,a@x.test\n")
    assert run("contacts", "import", "c.csv").exit_code == 0
    result = run("preview", "playbooks/b.yaml", "-c", "a")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith("playbooks/b.yaml:3:11: error [schema]")
    assert result.stderr.splitlines()[-1] == "seqctl: cannot preview playbooks/b.yaml: 1 error"
    folder = run("preview", "playbooks", "-c", "a")
    assert (folder.exit_code, folder.stderr) == (
        2,
        "seqctl: playbooks: a folder; preview one playbook file or sequence id\n",
    )
