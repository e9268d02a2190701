"""Message content: channel auto, contact_fields, attachments, and text composed by a program."""

from __future__ import annotations

import hashlib
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


def composer(project: Path, script: str) -> str:
    path = project / "compose.py"
    path.write_text(script, encoding="utf-8")
    return f"{sys.executable} {path}"


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
    playbook = COMPOSED.replace("MODE", "full").replace("COMMAND", composer(project, script))
    run = start(
        launch, playbook.replace("timeout: 5", "timeout: 1"), "key,email\nann,ann@example.com\n"
    )
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
